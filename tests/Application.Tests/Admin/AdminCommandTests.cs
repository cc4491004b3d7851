using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Status;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Application.Transcripts.Commands;
using MeatLizard.Application.Backups;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Options;
using Moq;
using MeatLizard.Application.Tests.Support;
using NUnit.Framework;
using static MeatLizard.Application.Tests.Admin.AdminHarness;

namespace MeatLizard.Application.Tests.Admin;

public class AdminCommandTests
{
    private AdminHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new AdminHarness();

    [TearDown]
    public void TearDown() => _h.Dispose();

    /// <summary>Every admin command, as a member who is not an admin would send it.</summary>
    public static IEnumerable<TestCaseData> EveryCommandByANonAdmin()
    {
        var id = Guid.NewGuid();
        yield return Case(new GetAdminStatus(NotAnAdmin));
        yield return Case(new ListEveryonesChats(NotAnAdmin, null));
        yield return Case(new CloseChat(id) { Admin = NotAnAdmin });
        yield return Case(new SetRateLimit(NotAnAdmin, "user", 5));
        yield return Case(new BanUser(NotAnAdmin, "bob"));
        yield return Case(new UnbanUser(NotAnAdmin, "bob"));
        yield return Case(new SetDefaultModel(NotAnAdmin, "tiny"));
        yield return Case(new SetFallbackMode(NotAnAdmin, "markov"));
        yield return Case(new StoreTranscript(id) { Admin = NotAnAdmin });
        yield return Case(new RunBackup(NotAnAdmin));
        yield return Case(new GetAdminMetrics(NotAnAdmin, "1h"));

        static TestCaseData Case(object command) =>
            new TestCaseData(command).SetName($"NonAdmin_{AuditNameOf(command).Replace(' ', '_')}_IsRefusedAndAudited");
    }

    /// <summary>An admin command's name in the audit log, or that of an owner's action an admin takes.</summary>
    private static string AuditNameOf(object command) => command switch
    {
        IAdminCommand admin => admin.AuditName,
        IOwnerOrAdminAction action => action.AuditName,
        _ => throw new ArgumentException("not an admin's request", nameof(command)),
    };

    [TestCaseSource(nameof(EveryCommandByANonAdmin))]
    public void AnyCommand_ByANonAdmin_IsRefused_Audited_AndDoesNothing(object command)
    {
        Assert.That(async () => await _h.SendAsync((dynamic)command), Throws.TypeOf<AdminOnlyException>());

        var row = _h.Audit.Single;
        Assert.That(row.Outcome, Is.EqualTo(AuditOutcome.Refused));
        Assert.That(row.Actor, Is.EqualTo("discord:43 (mallory)"));
        Assert.That(row.Command, Is.EqualTo(AuditNameOf(command)));
        Assert.That(row.Detail, Is.EqualTo(AdminOnlyException.Message));
        Assert.That(_h.Settings.Stored, Is.Empty);
        _h.Backups.VerifyNoOtherCalls();
        _h.Ports.Users.Verify(u => u.UpdateAsync(It.IsAny<User>(), It.IsAny<CancellationToken>()), Times.Never);
        _h.Ports.Sessions.Verify(s => s.UpdateAsync(It.IsAny<Chat>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task SetRateLimit_ByAnAdmin_StoresIt_AppliesItAtOnce_AndAuditsTheArguments()
    {
        _h.Ports.Clock.Set(5);

        var result = await _h.SendAsync(new SetRateLimit(AnAdmin, "User", 12));

        Assert.That(result, Is.EqualTo(new RateLimitSetDto("user", 12, 10)));
        Assert.That(_h.Settings.Stored[SettingKeys.RateLimit(RateLimitScope.User)],
            Is.EqualTo(new SettingEntry("ratelimit.user.per_minute", "12", Moments.At(5), "discord:42 (alice)")));
        Assert.That(_h.Settings.Invalidations, Is.EqualTo(1), "this process sees the change at once");
        Assert.That(_h.Audit.Single, Is.EqualTo(new AuditEntry(
            Moments.At(5), "discord:42 (alice)", "ratelimit", "scope=User perMinute=12", AuditOutcome.Succeeded, null)));
    }

    [TestCase("everyone", 5, "The scope is one of")]
    [TestCase("1", 5, "The scope is one of")]
    [TestCase("ip", -1, "requests per minute")]
    [TestCase("ip", 100_001, "requests per minute")]
    public void SetRateLimit_WithBadArguments_IsInvalid_AuditedAsSuch_AndStoresNothing(string scope, int perMinute, string says)
    {
        Assert.That(async () => await _h.SendAsync(new SetRateLimit(AnAdmin, scope, perMinute)),
            Throws.TypeOf<ValidationException>().With.Message.Contains(says));

        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Invalid));
        Assert.That(_h.Audit.Single.Detail, Does.Contain(says));
        Assert.That(_h.Settings.Stored, Is.Empty);
    }

    [Test]
    public async Task SetRateLimit_ToZero_MakesTheScopeUnlimited()
    {
        await _h.SendAsync(new SetRateLimit(AnAdmin, "guild", 0));

        var limit = await _h.Settings.GetAsync(RateLimitScope.Guild, CancellationToken.None);
        Assert.That(limit.Unlimited, Is.True);
    }

    [Test]
    public async Task SetFallbackMode_Markov_IsStoredAndInForce()
    {
        var mode = await _h.SendAsync(new SetFallbackMode(AnAdmin, "MARKOV"));

        Assert.That(mode, Is.EqualTo(FallbackMode.Markov));
        Assert.That(_h.Settings.Stored[SettingKeys.FallbackMode].Value, Is.EqualTo("markov"));
        Assert.That(_h.Audit.Single.Arguments, Is.EqualTo("mode=MARKOV"));
    }

    [Test]
    public void SetFallbackMode_Unknown_IsInvalid()
    {
        Assert.That(async () => await _h.SendAsync(new SetFallbackMode(AnAdmin, "loud")),
            Throws.TypeOf<ValidationException>().With.Message.Contains("inform or markov"));
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Invalid));
    }

    [Test]
    public async Task SetDefaultModel_StoresIt_AndNewChatsWithoutAModelUseIt()
    {
        var model = await _h.SendAsync(new SetDefaultModel(AnAdmin, "llama-3.2:1b"));

        Assert.That(model, Is.EqualTo("llama-3.2:1b"));
        var inference = Options.Create(new InferenceOptions { DefaultModel = "configured" });
        var prompts = new PromptBuilder(new ChatModels(_h.Settings, inference), inference);
        var unset = await prompts.BuildAsync(
            new RelayRequestBuilder().Build(), new SessionBuilder().WithModel(null).Build(), [], CancellationToken.None);
        var chosen = await prompts.BuildAsync(
            new RelayRequestBuilder().Build(), new SessionBuilder().WithModel("own").Build(), [], CancellationToken.None);
        Assert.That(unset.Model, Is.EqualTo("llama-3.2:1b"));
        Assert.That(chosen.Model, Is.EqualTo("own"), "a chat's own model still wins");
    }

    [TestCase("")]
    [TestCase("two words")]
    public void SetDefaultModel_NotAModelName_IsInvalid(string name)
    {
        Assert.That(async () => await _h.SendAsync(new SetDefaultModel(AnAdmin, name)), Throws.TypeOf<ValidationException>());
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Invalid));
        Assert.That(_h.Settings.Stored, Is.Empty);
    }

    [Test]
    public async Task Ban_ThenUnban_ChangeTheUser_AndBothAreAudited()
    {
        var bob = _h.Ports.Remember(new UserBuilder().Named("bob").Build());

        var banned = await _h.SendAsync(new BanUser(AnAdmin, "bob"));
        var again = await _h.SendAsync(new BanUser(AnAdmin, "bob"));
        var unbanned = await _h.SendAsync(new UnbanUser(AnAdmin, "bob"));

        Assert.That(banned, Is.EqualTo(new UserStatusChangedDto(bob.Id.Value, "bob", Banned: true, Changed: true)));
        Assert.That(again.Changed, Is.False, "banning twice changes nothing");
        Assert.That(unbanned, Is.EqualTo(new UserStatusChangedDto(bob.Id.Value, "bob", Banned: false, Changed: true)));
        Assert.That(bob.IsBanned, Is.False);
        _h.Ports.Users.Verify(u => u.UpdateAsync(bob, It.IsAny<CancellationToken>()), Times.Exactly(2));
        Assert.That(_h.Audit.Entries.Select(e => (e.Command, e.Arguments, e.Outcome)), Is.EqualTo(new[]
        {
            ("ban", "user=bob", AuditOutcome.Succeeded), ("ban", "user=bob", AuditOutcome.Succeeded),
            ("unban", "user=bob", AuditOutcome.Succeeded),
        }));
    }

    [Test]
    public void Ban_AnUnknownUser_IsRefusedWithTheName_AndAudited()
    {
        Assert.That(async () => await _h.SendAsync(new BanUser(AnAdmin, "nobody")),
            Throws.TypeOf<NotFoundException>().With.Message.EqualTo("There is no user named nobody."));
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Refused));
        Assert.That(_h.Audit.Single.Detail, Is.EqualTo("There is no user named nobody."));
    }

    [Test]
    public void Ban_NotAUsername_IsInvalid()
    {
        Assert.That(async () => await _h.SendAsync(new BanUser(AnAdmin, "<@123>")), Throws.TypeOf<ValidationException>());
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Invalid));
    }

    [Test]
    public async Task CloseSession_ClosesAnyonesChat_CancelsItsGeneration_AndIsAudited()
    {
        var owner = new UserBuilder().Build();
        var chat = _h.Ports.Remember(new SessionBuilder().OwnedBy(owner).Titled("Spam").Build());
        var running = _h.Ports.Remember(new RelayRequestBuilder().ForSession(chat.Id).Dispatched().Build());
        _h.Ports.Sessions.Setup(s => s.TryCloseAsync(chat, It.IsAny<CancellationToken>())).ReturnsAsync(true);
        _h.Ports.Reads.Setup(r => r.GetTranscriptAsync(chat.Id, false, It.IsAny<CancellationToken>())).ReturnsAsync([]);
        _h.Ports.Clock.Set(30);

        var closed = await _h.SendAsync(new CloseChat(chat.Id.Value) { Admin = AnAdmin });

        Assert.That(closed with { Transcript = null },
            Is.EqualTo(new ChatClosedDto(chat.Id.Value, "Spam", WasOpen: true, GenerationCancelled: true, null)));
        Assert.That(chat.IsClosed, Is.True);
        Assert.That(chat.ClosedAt, Is.EqualTo(Moments.At(30)));
        Assert.That(running.IsFinished, Is.True);
        // Closed by the one conditional write an owner's close uses (a whole-row save could undo a rename made meanwhile).
        _h.Ports.Sessions.Verify(s => s.TryCloseAsync(chat, It.IsAny<CancellationToken>()), Times.Once);
        _h.Ports.Sessions.Verify(s => s.UpdateAsync(chat, It.IsAny<CancellationToken>()), Times.Never);
        // And its transcript stored as the owner's close stores it (the admin's close stored none before).
        _h.ObjectStore.Verify(o => o.PutAsync(It.Is<string>(k => k.EndsWith(".json", StringComparison.Ordinal)),
            It.IsAny<Stream>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(_h.Audit.Single, Is.EqualTo(new AuditEntry(Moments.At(30), "discord:42 (alice)", "session close",
            $"id={chat.Id.Value:D}", AuditOutcome.Succeeded, null)));
    }

    [Test]
    public void CloseSession_Unknown_IsRefused_AndAudited()
    {
        var id = Guid.NewGuid();

        Assert.That(async () => await _h.SendAsync(new CloseChat(id) { Admin = AnAdmin }), Throws.TypeOf<NotFoundException>());
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Refused));
    }

    [Test]
    public async Task StoreTranscript_OfAnyonesChat_StoresJsonAndCsv_AndReturnsTheLinks()
    {
        var chat = _h.Ports.Remember(new SessionBuilder().Build());
        _h.Ports.Reads.Setup(r => r.GetTranscriptAsync(chat.Id, false, It.IsAny<CancellationToken>())).ReturnsAsync([]);

        var stored = await _h.SendAsync(new StoreTranscript(chat.Id.Value) { Admin = AnAdmin });

        Assert.That(stored.SessionId, Is.EqualTo(chat.Id.Value));
        Assert.That(stored.JsonUrl, Does.StartWith("https://files.example/transcripts/").And.EndWith(".json"));
        Assert.That(stored.CsvUrl, Does.EndWith(".csv"));
        _h.ObjectStore.Verify(s => s.PutAsync(It.IsAny<string>(), It.IsAny<Stream>(), It.IsAny<string>(),
            It.IsAny<CancellationToken>()), Times.Exactly(2));
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Succeeded));
    }

    [Test]
    public async Task RunBackup_MakesOneNow()
    {
        var backup = new BackupDto("backups/sqlite/x.db", Moments.T0, 4096, "ab");
        _h.Backups.Setup(b => b.CreateAsync(It.IsAny<CancellationToken>())).ReturnsAsync(backup);

        Assert.That(await _h.SendAsync(new RunBackup(AnAdmin)), Is.EqualTo(backup));
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Succeeded));
    }

    [Test]
    public void RunBackup_ThatBreaks_IsAuditedAsFailed_ByErrorTypeOnly()
    {
        _h.Backups.Setup(b => b.CreateAsync(It.IsAny<CancellationToken>()))
            .ThrowsAsync(new IOException("disk full at /secret/path"));

        Assert.That(async () => await _h.SendAsync(new RunBackup(AnAdmin)), Throws.TypeOf<IOException>());
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Failed));
        Assert.That(_h.Audit.Single.Detail, Is.EqualTo("IOException"));
    }

    [TestCase(null, 60)]
    [TestCase("30m", 30)]
    [TestCase("6h", 360)]
    [TestCase("7d", 7 * 24 * 60)]
    public async Task Metrics_ReadTheFiguresOfThePeriodEndingNow(string? period, int minutes)
    {
        _h.Ports.Clock.Set(1000);
        var summary = new MetricsSummary(Moments.T0, Moments.At(1000), 3, 100, 200, 12.5, 1, 0);
        _h.AdminReads.Setup(r => r.GetMetricsSummaryAsync(
            Moments.At(1000) - TimeSpan.FromMinutes(minutes), Moments.At(1000), It.IsAny<CancellationToken>())).ReturnsAsync(summary);

        Assert.That(await _h.SendAsync(new GetAdminMetrics(AnAdmin, period)), Is.SameAs(summary));
        Assert.That(_h.Audit.Single.Arguments, Is.EqualTo(period is null ? null : $"period={period}"));
    }

    [TestCase("1")]
    [TestCase("h")]
    [TestCase("0h")]
    [TestCase("91d")]
    [TestCase("5 weeks")]
    public void Metrics_WithABadPeriod_IsInvalid(string period)
    {
        Assert.That(async () => await _h.SendAsync(new GetAdminMetrics(AnAdmin, period)),
            Throws.TypeOf<ValidationException>().With.Message.Contains("30m, 6h or 7d"));
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Invalid));
    }

    [Test]
    public async Task PeriodicMetricsSummary_IsNotAnAdminsAct_AndLeavesNoAuditRow()
    {
        _h.AdminReads.Setup(r => r.GetMetricsSummaryAsync(It.IsAny<DateTimeOffset>(), It.IsAny<DateTimeOffset>(),
            It.IsAny<CancellationToken>())).ReturnsAsync(new MetricsSummary(Moments.T0, Moments.T0, 0, null, null, null, 0, 0));

        await _h.SendAsync(new GetMetricsSummary(TimeSpan.FromMinutes(5)));

        Assert.That(_h.Audit.Entries, Is.Empty);
    }

    [Test]
    public async Task Sessions_OfOneUser_AreListedByTheirOwner()
    {
        var bob = _h.Ports.Remember(new UserBuilder().Named("bob").Build());
        IReadOnlyList<AdminSessionDto> rows = [new(Guid.NewGuid(), "chat", "active", bob.Id.Value, "bob", 2, Moments.T0)];
        _h.AdminReads.Setup(r => r.ListSessionsAsync(bob.Id, ListEveryonesChats.Max, It.IsAny<CancellationToken>())).ReturnsAsync(rows);

        Assert.That(await _h.SendAsync(new ListEveryonesChats(AnAdmin, "bob")), Is.SameAs(rows));
        Assert.That(_h.Audit.Single.Arguments, Is.EqualTo("user=bob"));
    }

    [Test]
    public async Task Sessions_OfEveryone_WhenNoUserIsGiven()
    {
        IReadOnlyList<AdminSessionDto> rows = [];
        _h.AdminReads.Setup(r => r.ListSessionsAsync(null, ListEveryonesChats.Max, It.IsAny<CancellationToken>())).ReturnsAsync(rows);

        Assert.That(await _h.SendAsync(new ListEveryonesChats(AnAdmin, null)), Is.SameAs(rows));
    }

    [Test]
    public void Sessions_OfAnUnknownUser_AreRefused()
    {
        Assert.That(async () => await _h.SendAsync(new ListEveryonesChats(AnAdmin, "nobody")), Throws.TypeOf<NotFoundException>());
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Refused));
    }

    [Test]
    public async Task Status_ShowsWorkersQueueFallbackModelAndTheLastHour()
    {
        _h.Ports.WorkersOnline(TestPorts.ReadyWorker());
        _h.Ports.Reads.Setup(r => r.CountQueuedAsync(It.IsAny<CancellationToken>())).ReturnsAsync(4);
        var lastHour = new MetricsSummary(Moments.T0, Moments.T0, 9, 120, 900, 30, 1, 0);
        _h.AdminReads.Setup(r => r.GetMetricsSummaryAsync(It.IsAny<DateTimeOffset>(), It.IsAny<DateTimeOffset>(),
            It.IsAny<CancellationToken>())).ReturnsAsync(lastHour);
        await _h.SendAsync(new SetFallbackMode(AnAdmin, "markov"));
        await _h.SendAsync(new SetDefaultModel(AnAdmin, "tiny"));
        _h.DutyLeases.Setup(l => l.ListHoldersAsync(ServerBotsOnline.DutyPrefix, It.IsAny<DateTimeOffset>(),
            It.IsAny<CancellationToken>())).ReturnsAsync(["bot-a:4242:run1", "bot-b:17:run2"]);

        var status = await _h.SendAsync(new GetAdminStatus(AnAdmin));

        Assert.That(status.Platform.WorkersOnline, Is.EqualTo(1));
        Assert.That(status.Platform.QueueDepth, Is.EqualTo(4));
        Assert.That(status.Platform.FallbackMode, Is.EqualTo("markov"));
        Assert.That(status.DefaultModel, Is.EqualTo("tiny"));
        Assert.That(status.LastHour, Is.SameAs(lastHour));
        Assert.That(status.Platform.ServerBots, Is.EqualTo(new[] { "bot-a (pid 4242)", "bot-b (pid 17)" }));
        Assert.That(_h.Audit.Entries[^1].Command, Is.EqualTo("status"));
    }
}
