using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Messages;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>The audit log, the settings table and the admins' reads (migration 0003); the same on every provider.</summary>
public abstract class AdminStoresContract : ScopedDatabaseContract
{
    [Test]
    public async Task AuditLog_KeepsWhoWhatWithWhichArgumentsHowAndWhen_NewestFirst()
    {
        var audit = Services.GetRequiredService<IAuditLog>();
        await audit.AppendAsync(new AuditEntry(At(1), "discord:42 (alice)", "ban", "user=bob", AuditOutcome.Succeeded, null), None);
        await audit.AppendAsync(new AuditEntry(At(2), "discord:43 (eve)", "ban", "user=alice", AuditOutcome.Refused,
            "This command is for MeatLizard admins."), None);

        var entries = await audit.ListRecentAsync(10, None);

        Assert.That(entries, Is.EqualTo(new[]
        {
            new AuditEntry(At(2), "discord:43 (eve)", "ban", "user=alice", AuditOutcome.Refused, "This command is for MeatLizard admins."),
            new AuditEntry(At(1), "discord:42 (alice)", "ban", "user=bob", AuditOutcome.Succeeded, null),
        }));
        Assert.That(await audit.ListRecentAsync(1, None), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Settings_SetTwice_KeepsTheLastValueAndWhoSetIt_AndRemoveForgetsIt()
    {
        var settings = Services.GetRequiredService<ISettingsStore>();
        await settings.SetAsync(new SettingEntry("fallback.mode", "markov", At(1), "discord:42"), None);
        await settings.SetAsync(new SettingEntry("fallback.mode", "inform", At(2), "discord:43"), None);
        await settings.SetAsync(new SettingEntry("model.default", "tiny", At(3), null), None);

        Assert.That(await settings.ListAsync(None), Is.EqualTo(new[]
        {
            new SettingEntry("fallback.mode", "inform", At(2), "discord:43"),
            new SettingEntry("model.default", "tiny", At(3), null),
        }));
        Assert.That(await settings.RemoveAsync("model.default", None), Is.True);
        Assert.That(await settings.RemoveAsync("model.default", None), Is.False);
        Assert.That((await settings.ListAsync(None)).Select(s => s.Key), Is.EqualTo(new[] { "fallback.mode" }));
    }

    [Test]
    public async Task RuntimeSettings_SeeAWriteAtOnceAfterInvalidate()
    {
        var runtime = Db.Services.GetRequiredService<IRuntimeSettings>();
        Assert.That(await runtime.GetAsync("model.default", None), Is.Null);

        await Services.GetRequiredService<ISettingsStore>().SetAsync(new SettingEntry("model.default", "tiny", At(1), null), None);
        runtime.Invalidate();

        Assert.That(await runtime.GetAsync("model.default", None), Is.EqualTo("tiny"));
    }

    [Test]
    public async Task RuntimeSettings_OfAnotherProcess_SeeAWriteOnceTheirCacheExpires()
    {
        var clock = new SteppingTimeProvider(T0);
        var other = Db.StartHost(clock).GetRequiredService<IRuntimeSettings>();
        Assert.That(await other.GetAsync("fallback.mode", None), Is.Null);
        await Services.GetRequiredService<ISettingsStore>().SetAsync(new SettingEntry("fallback.mode", "markov", At(1), null), None);

        var cached = await other.GetAsync("fallback.mode", None);
        clock.Now += TimeSpan.FromSeconds(6);
        var expired = await other.GetAsync("fallback.mode", None);

        Assert.That(cached, Is.Null, "within its lifetime the cache answers");
        Assert.That(expired, Is.EqualTo("markov"));
    }

    [Test]
    public async Task Sessions_ListEveryonesOrOneOwners_NewestFirst_WithOwnerAndMessageCount()
    {
        var alice = await AddUserAsync(Services, "alice");
        var bob = await AddUserAsync(Services, "bob");
        var older = await AddSessionAsync(Services, alice, At(1), "older");
        var newer = await AddSessionAsync(Services, bob, At(2), "newer");
        await AddMessageAsync(Services, older, MessageSource.User, "q", At(3));
        await AddMessageAsync(Services, older, MessageSource.Model, "a", At(4));
        var reads = Services.GetRequiredService<IAdminReadModel>();

        var all = await reads.ListSessionsAsync(null, 10, None);
        var bobs = await reads.ListSessionsAsync(bob.Id, 10, None);

        Assert.That(all.Select(s => (s.Id, s.OwnerName, s.Messages)), Is.EqualTo(new[]
        {
            (newer.Id.Value, "bob", 0), (older.Id.Value, "alice", 2),
        }));
        Assert.That(all[1].Title, Is.EqualTo("older"));
        Assert.That(all[1].Status, Is.EqualTo("active"));
        Assert.That(all[1].OwnerId, Is.EqualTo(alice.Id.Value));
        Assert.That(all[1].UpdatedAt, Is.EqualTo(At(1)));
        Assert.That(bobs.Select(s => s.Id), Is.EqualTo(new[] { newer.Id.Value }));
        Assert.That(await reads.ListSessionsAsync(null, 1, None), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task MetricsSummary_OfAPeriod_CountsPercentilesThroughputFallbacksAndErrors()
    {
        var recorder = Services.GetRequiredService<IMetricsRecorder>();
        // Latencies (queue + relay + inference) 100, 200, …, 1000 ms; one fallback, one failure.
        for (var i = 1; i <= 10; i++)
        {
            var outcome = i switch { 9 => "fallback:noworker", 10 => "failed", _ => "completed" };
            int? inferenceMs = i <= 8 ? i * 100 - 20 : null;
            await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(i), 10,
                i * 100 - 10 - (inferenceMs ?? 0), inferenceMs, 5, i <= 8 ? 40 : 0, i == 9, outcome), None);
        }

        await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(100), 1, 1, 1, 1, 1, false, "completed"), None);
        var reads = Services.GetRequiredService<IAdminReadModel>();

        var summary = await reads.GetMetricsSummaryAsync(At(1), At(11), None);
        var empty = await reads.GetMetricsSummaryAsync(At(200), At(300), None);

        Assert.Multiple(() =>
        {
            Assert.That(summary.Requests, Is.EqualTo(10));
            Assert.That(summary.P50LatencyMs, Is.EqualTo(500));
            Assert.That(summary.P95LatencyMs, Is.EqualTo(1000));
            // 8 answers × 40 tokens over (80 + 180 + … + 780) ms = 320 tokens / 3.44 s.
            Assert.That(summary.TokensPerSecond, Is.EqualTo(320 / 3.44).Within(0.01));
            Assert.That(summary.Fallbacks, Is.EqualTo(1));
            Assert.That(summary.FallbackRate, Is.EqualTo(0.1).Within(1e-9));
            Assert.That(summary.Errors, Is.EqualTo(1));
            Assert.That(empty.Requests, Is.Zero);
            Assert.That(empty.P50LatencyMs, Is.Null);
            Assert.That(empty.TokensPerSecond, Is.Null);
            Assert.That(empty.FallbackRate, Is.Null);
        });
    }

    [Test]
    public async Task MetricsSummary_TokensPerSecond_IsGenerationSpeedWhereTheEngineReportedItsTimings()
    {
        var recorder = Services.GetRequiredService<IMetricsRecorder>();
        // The worker took 1 s for each (model wait included); llama.cpp generated 30 tokens in 150.5 ms and 10 in
        // 49.5 ms. An older worker reported no timings: its 20 tokens count over its 1 s.
        await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(1), 1, 1, 1000, 5, 30, false,
            "completed", PromptMs: 2.25, GenerationMs: 150.5), None);
        await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(2), 1, 1, 1000, 5, 10, false,
            "completed", PromptMs: 1.0, GenerationMs: 49.5), None);
        await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(3), 1, 1, 1000, 5, 20, false,
            "completed"), None);
        var reads = Services.GetRequiredService<IAdminReadModel>();

        var timed = await reads.GetMetricsSummaryAsync(At(1), At(3), None);
        var mixed = await reads.GetMetricsSummaryAsync(At(1), At(4), None);

        Assert.That(timed.TokensPerSecond, Is.EqualTo(40 / 0.2).Within(1e-6));
        Assert.That(mixed.TokensPerSecond, Is.EqualTo(60 / 1.2).Within(1e-6));
        Assert.That(timed.P50LatencyMs, Is.EqualTo(1002), "latency is still the whole wait");
    }

    [Test]
    public async Task MetricSamples_CarryTheMeasuredTimeToFirstToken_AndNullWhereNoneWasMeasured()
    {
        var recorder = Services.GetRequiredService<IMetricsRecorder>();
        await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(1), 10, 20, 3000, 5, 30, false,
            "completed", PromptMs: 4.5) { FirstTokenMs = 1234 }, None);
        await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(2), 10, 20, null, 0, 3, true,
            "fallback:noworker"), None);

        var samples = await Services.GetRequiredService<IAdminConsoleReads>().ListMetricSamplesAsync(At(0), At(3), 10, None);

        Assert.That(samples.Select(s => (s.Source, s.FirstTokenMs)), Is.EqualTo(new (string, int?)[]
        {
            ("model", 1234), ("fallback", null),
        }));
        Assert.That(samples[0].TimeToFirstTokenMs, Is.EqualTo(1234), "the measurement, not the estimate (10 + 20 + 4)");
        Assert.That(samples[1].TimeToFirstTokenMs, Is.EqualTo(30), "nothing measured: queue + relay");
    }

    [Test]
    public async Task Migration0005_AddedTheEnginesTimingsToMetrics()
    {
        Assert.That(await Db.ScalarAsync<long>(
            "SELECT COUNT(*) FROM schema_migrations WHERE version = 5"), Is.EqualTo(1));
        Assert.That(await Db.ScalarAsync<long>(
            "SELECT COUNT(*) FROM metrics WHERE prompt_ms IS NULL AND generation_ms IS NULL"), Is.Zero);
    }

    [Test]
    public async Task Migration0003_ReplacedTheAuditTable_AndAddedWhoSetASetting()
    {
        Assert.That(await Db.ScalarAsync<long>(
            "SELECT COUNT(*) FROM schema_migrations WHERE version = 3"), Is.EqualTo(1));
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM audit_log"), Is.Zero);
    }

    private sealed class SteppingTimeProvider(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}

[TestFixture]
public sealed class SqliteAdminStoresTests : AdminStoresContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresAdminStoresTests : AdminStoresContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}
