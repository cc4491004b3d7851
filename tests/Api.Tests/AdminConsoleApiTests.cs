using System.Net;
using System.Text.Json;
using MediatR;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.Queries;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The admin console's endpoints (issue 37, item 3) end to end on each database: admins only, bad input named, every
/// call audited, the audit log paged, the settings shared with the Discord commands, the dashboard's series made from
/// real messages.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class AdminConsoleApiTests(string storage)
{
    /// <summary>A Discord admin as the server bot names one (AdminSlashCommands' actor).</summary>
    private static readonly AdminActor DiscordAdmin = new("discord:42", "alice", IsAdmin: true);

    private Task<ApiHost> StartAsync(bool withEngine = false, IDictionary<string, string?>? settings = null) =>
        new ApiHost(settings, withEngine: withEngine, storage: storage).StartAsync();

    private static async Task<IReadOnlyList<AuditEntry>> AuditAsync(ApiHost host)
    {
        await using var scope = host.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(200, CancellationToken.None);
    }

    /// <summary>What a Discord slash command sends, through the same pipeline (audit, validation, limits).</summary>
    private static async Task<T> DiscordAsync<T>(ApiHost host, IRequest<T> command)
    {
        await using var scope = host.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(command);
    }

    private static async Task<string[]> FieldsAsync(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var problem = await ApiClient.ReadAsync(response);
        return [.. problem.GetProperty("errors").EnumerateObject().Select(p => p.Name)];
    }

    [Test]
    public async Task EveryConsoleEndpoint_IsRefusedToANonAdmin_With403_AndTheRefusalIsAudited()
    {
        await using var host = await StartAsync();
        using var user = host.NewClient();
        var name = await user.SignUpAsync();
        var me = (await ApiClient.ReadAsync(await user.GetAsync("api/v1/auth/me"))).GetProperty("id").GetString();

        var answers = new[]
        {
            await user.GetAsync("api/v1/admin/settings"),
            await user.GetAsync("api/v1/admin/status"),
            await user.GetAsync("api/v1/admin/audit"),
            await user.GetAsync("api/v1/admin/metrics/series?period=1h"),
            await user.GetAsync("api/v1/admin/users?search=op"),
            await user.PostAsync($"api/v1/admin/users/{me}/ban", null),
            await user.PutAsync("api/v1/admin/settings/fallback", new { mode = "markov" }),
            await user.PutAsync("api/v1/admin/settings/rate-limits/user", new { perMinute = 1 }),
            await user.PutAsync("api/v1/admin/settings/default-model", new { model = "other" }),
        };

        Assert.That(answers.Select(a => a.StatusCode), Is.All.EqualTo(HttpStatusCode.Forbidden));
        var audit = await AuditAsync(host);
        Assert.That(audit.Where(a => a.Actor.EndsWith($"({name})", StringComparison.Ordinal)).Select(a => (a.Command, a.Outcome)),
            Is.SupersetOf(new[]
            {
                ("settings", AuditOutcome.Refused), ("audit", AuditOutcome.Refused), ("dashboard", AuditOutcome.Refused),
                ("ban", AuditOutcome.Refused), ("fallback", AuditOutcome.Refused), ("ratelimit", AuditOutcome.Refused),
            }));
        var settings = await ApiClient.ReadAsync(await (await host.FirstAdminAsync()).GetAsync("api/v1/admin/settings"));
        Assert.That(settings.GetProperty("fallbackMode").GetString(), Is.Not.EqualTo("markov"), "nothing was changed");
    }

    [Test]
    public async Task BadInput_IsAProblemNamingTheField_AndIsAuditedAsInvalid()
    {
        await using var host = await StartAsync();
        var admin = await host.FirstAdminAsync();

        Assert.Multiple(async () =>
        {
            Assert.That(await FieldsAsync(await admin.PutAsync("api/v1/admin/settings/rate-limits/user", new { perMinute = -1 })),
                Is.EqualTo(new[] { "perMinute" }));
            Assert.That(await FieldsAsync(await admin.PutAsync("api/v1/admin/settings/rate-limits/planet", new { perMinute = 5 })),
                Is.EqualTo(new[] { "scope" }));
            Assert.That(await FieldsAsync(await admin.PutAsync("api/v1/admin/settings/fallback", new { mode = "loud" })),
                Is.EqualTo(new[] { "mode" }));
            Assert.That(await FieldsAsync(await admin.PutAsync("api/v1/admin/settings/default-model", new { model = "" })),
                Is.EqualTo(new[] { "model" }));
            Assert.That(await FieldsAsync(await admin.GetAsync("api/v1/admin/audit?limit=0")), Is.EqualTo(new[] { "limit" }));
            Assert.That(await FieldsAsync(await admin.GetAsync("api/v1/admin/audit?before=-3")), Is.EqualTo(new[] { "before" }));
            Assert.That(await FieldsAsync(await admin.GetAsync("api/v1/admin/metrics/series?period=30d")),
                Is.EqualTo(new[] { "period" }));
            Assert.That(await FieldsAsync(await admin.GetAsync($"api/v1/admin/users?search={new string('a', 33)}")),
                Is.EqualTo(new[] { "search" }));
        });
        var invalid = (await AuditAsync(host)).Where(a => a.Outcome == AuditOutcome.Invalid).Select(a => a.Command);
        Assert.That(invalid, Is.SupersetOf(new[] { "ratelimit", "fallback", "model", "audit", "dashboard", "users" }));
    }

    [Test]
    public async Task BanAndUnban_ById_StopAndRestoreTheUser_SearchFindsThem_AndEachIsAuditedWithTheAdmin()
    {
        await using var host = await StartAsync();
        var admin = await host.FirstAdminAsync();
        using var bob = host.NewClient();
        var bobName = await bob.SignUpAsync("bob_" + Guid.NewGuid().ToString("N")[..6]);
        using var other = host.NewClient();
        await other.SignUpAsync("carol_" + Guid.NewGuid().ToString("N")[..6]);

        var found = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/users?search=BOB_"));
        var id = found.EnumerateArray().Single().GetProperty("id").GetString();
        var banned = await admin.PostAsync($"api/v1/admin/users/{id}/ban", null);
        var whileBanned = await bob.GetAsync("api/v1/sessions");
        var signInBanned = await bob.PostAsync("api/v1/auth/login", new { username = bobName, password = ApiHost.AdminPassword });
        var listed = await ApiClient.ReadAsync(await admin.GetAsync($"api/v1/admin/users?search={bobName}"));
        var unbanned = await admin.PostAsync($"api/v1/admin/users/{id}/unban", null);
        await bob.SignInAsync(bobName, ApiHost.AdminPassword);
        var after = await bob.GetAsync("api/v1/sessions");
        var unknown = await admin.PostAsync($"api/v1/admin/users/{Guid.NewGuid()}/ban", null);

        Assert.That(found.GetArrayLength(), Is.EqualTo(1), "the search matches usernames in any case");
        Assert.That(banned.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await ApiClient.ReadAsync(banned)).GetProperty("banned").GetBoolean(), Is.True);
        Assert.That(whileBanned.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "a ban ends the user's sign-ins");
        Assert.That(signInBanned.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(listed.EnumerateArray().Single().GetProperty("status").GetString(), Is.EqualTo("banned"));
        Assert.That(unbanned.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.OK), "unbanned, the user signs in again");
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var audit = await AuditAsync(host);
        Assert.That(audit.Where(a => a.Command is "ban" or "unban" && a.Outcome == AuditOutcome.Succeeded)
            .Select(a => (a.Command, a.Actor, a.Arguments)), Is.EquivalentTo(new[]
        {
            ("ban", audit.First(a => a.Command == "ban").Actor, $"user={id}"),
            ("unban", audit.First(a => a.Command == "ban").Actor, $"user={id}"),
        }));
        Assert.That(audit.First(a => a.Command == "ban" && a.Outcome == AuditOutcome.Succeeded).Actor,
            Does.StartWith("user:").And.EndWith($"({ApiHost.OperatorName})"));
    }

    [Test]
    public async Task Accounts_AreListedNewestFirst_AndThoseWaitingForApproval_OldestFirst()
    {
        await using var host = await StartAsync();
        var admin = await host.FirstAdminAsync();
        var open = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var client = host.NewClient();
            open.Add(await client.SignUpAsync());
        }

        (await admin.Http.PutAsync("api/v1/admin/registration",
            System.Net.Http.Json.JsonContent.Create(new { policy = "approval" }))).EnsureSuccessStatusCode();
        var waiting = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var client = host.NewClient();
            var name = "w" + Guid.NewGuid().ToString("N")[..12];
            (await client.PostAsync("api/v1/auth/register", new { username = name, password = "correct horse battery" }))
                .EnsureSuccessStatusCode();
            waiting.Add(name);
        }

        static async Task<string?[]> NamesAsync(HttpResponseMessage response) =>
            [.. (await ApiClient.ReadAsync(response)).EnumerateArray().Select(u => u.GetProperty("username").GetString())];
        var listed = await NamesAsync(await admin.GetAsync("api/v1/admin/users"));
        var queue = await NamesAsync(await admin.GetAsync("api/v1/admin/users?awaitingApproval=true"));
        var accounts = await NamesAsync(await admin.GetAsync("api/v1/admin/users?awaitingApproval=false"));

        // Past the list's cap the newest accounts are the ones an admin looks for; older ones are found by search.
        Assert.That(listed, Is.EqualTo(new[] { waiting[1], waiting[0], open[2], open[1], open[0], ApiHost.OperatorName }));
        Assert.That(queue, Is.EqualTo(waiting), "those waiting are served in the order they came");
        Assert.That(accounts, Is.EqualTo(new[] { open[2], open[1], open[0], ApiHost.OperatorName }),
            "the console's accounts list: those not waiting, so sign-ups waiting for approval never push them out of its cap");
    }

    [Test]
    public async Task AuditLog_IsPagedNewestFirst_AndFilteredByActorAndCommand()
    {
        await using var host = await StartAsync();
        var admin = await host.FirstAdminAsync();
        for (var i = 0; i < 5; i++)
        {
            (await admin.PutAsync("api/v1/admin/settings/rate-limits/user", new { perMinute = 100 + i })).EnsureSuccessStatusCode();
        }

        await DiscordAsync(host, new SetFallbackMode(DiscordAdmin, "markov"));

        var first = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/audit?limit=2&command=ratelimit"));
        var next = first.GetProperty("nextBefore").GetInt64();
        var second = await ApiClient.ReadAsync(await admin.GetAsync($"api/v1/admin/audit?limit=2&command=ratelimit&before={next}"));
        var third = await ApiClient.ReadAsync(await admin.GetAsync(
            $"api/v1/admin/audit?limit=2&command=ratelimit&before={second.GetProperty("nextBefore").GetInt64()}"));
        var byDiscord = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/audit?actor=DISCORD:42"));

        static string[] Arguments(JsonElement page) =>
            [.. page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("arguments").GetString()!)];
        Assert.That(Arguments(first), Is.EqualTo(new[] { "scope=user perMinute=104", "scope=user perMinute=103" }));
        Assert.That(Arguments(second), Is.EqualTo(new[] { "scope=user perMinute=102", "scope=user perMinute=101" }));
        Assert.That(Arguments(third), Is.EqualTo(new[] { "scope=user perMinute=100" }));
        Assert.That(third.TryGetProperty("nextBefore", out var end) && end.ValueKind != JsonValueKind.Null, Is.False,
            "the last page says so");
        var discordRows = byDiscord.GetProperty("entries").EnumerateArray().ToArray();
        Assert.That(discordRows.Select(e => (e.GetProperty("command").GetString(), e.GetProperty("outcome").GetString())),
            Is.EqualTo(new[] { ("fallback", "succeeded") }));
        Assert.That(discordRows[0].GetProperty("actor").GetString(), Is.EqualTo("discord:42 (alice)"));
        Assert.That((await AuditAsync(host)).Count(a => a.Command == "audit" && a.Outcome == AuditOutcome.Succeeded),
            Is.EqualTo(4), "reading the audit log is audited too");
    }

    [Test]
    public async Task Settings_ChangedInTheConsole_AreWhatTheDiscordCommandsRead_AndTheirChangesShowInTheConsole()
    {
        await using var host = await StartAsync();
        var admin = await host.FirstAdminAsync();

        // Console → Discord: the console's PUTs, then what /status and /ratelimit read.
        (await admin.PutAsync("api/v1/admin/settings/fallback", new { mode = "markov" })).EnsureSuccessStatusCode();
        var model = await ApiClient.ReadAsync(await admin.PutAsync("api/v1/admin/settings/default-model", new { model = "console-model" }));
        (await admin.PutAsync("api/v1/admin/settings/rate-limits/guild", new { perMinute = 17 })).EnsureSuccessStatusCode();
        var status = await DiscordAsync(host, new GetAdminStatus(DiscordAdmin));
        var limit = await DiscordAsync(host, new SetRateLimit(DiscordAdmin, "ip", 23));

        Assert.That(model.GetProperty("model").GetString(), Is.EqualTo("console-model"));
        Assert.That(status.Platform.FallbackMode, Is.EqualTo("markov").IgnoreCase, "/status reads the console's fallback");
        Assert.That(status.DefaultModel, Is.EqualTo("console-model"), "/status reads the console's default model");
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var limits = scope.ServiceProvider.GetRequiredService<IRateLimitSettings>();
            Assert.That((await limits.GetAsync(RateLimitScope.Guild, CancellationToken.None)).PerMinute, Is.EqualTo(17),
                "the limiter Discord's guild members meet uses the console's rate");
        }

        // Discord → console: /fallback inform, /model, and the /ratelimit above, read back in the console.
        await DiscordAsync(host, new SetFallbackMode(DiscordAdmin, "inform"));
        await DiscordAsync(host, new SetDefaultModel(DiscordAdmin, "discord-model"));
        var settings = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/settings"));

        Assert.That(limit.PerMinute, Is.EqualTo(23));
        Assert.That(settings.GetProperty("fallbackMode").GetString(), Is.EqualTo("inform"));
        Assert.That(settings.GetProperty("defaultModel").GetString(), Is.EqualTo("discord-model"));
        var rates = settings.GetProperty("rateLimits").EnumerateArray()
            .ToDictionary(r => r.GetProperty("scope").GetString()!, r => r.GetProperty("perMinute").GetInt32());
        Assert.That(rates["ip"], Is.EqualTo(23));
        Assert.That(rates["guild"], Is.EqualTo(17));
        var changes = settings.GetProperty("changes").EnumerateArray()
            .ToDictionary(c => c.GetProperty("key").GetString()!, c => c.GetProperty("updatedBy").GetString());
        Assert.That(changes[SettingKeys.FallbackMode], Is.EqualTo("discord:42 (alice)"), "who changed it last is shown");
        Assert.That(changes[SettingKeys.RateLimit(RateLimitScope.Guild)], Does.EndWith($"({ApiHost.OperatorName})"));
    }

    [Test]
    public async Task ConsoleChanges_AreRateLimitedPerAdmin()
    {
        await using var host = await StartAsync(settings: new Dictionary<string, string?>
        {
            ["RateLimits:EditsPerUserPerMinute"] = "1",
            ["RateLimits:EditBurst"] = "2",
        });
        var admin = await host.FirstAdminAsync();

        var codes = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            codes.Add((await admin.PutAsync("api/v1/admin/settings/fallback", new { mode = "inform" })).StatusCode);
        }

        Assert.That(codes, Is.EqualTo(new[] { HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
    }

    /// <summary>
    /// Reads take the admin's Admin bucket too (issue 37: "admin endpoints are 403 for others and rate limited"): past
    /// it, 429 with Retry-After and a ProblemDetails; another admin's bucket is their own.
    /// </summary>
    [Test]
    public async Task ConsoleReads_AreRateLimitedPerAdmin_With429AndRetryAfter()
    {
        await using var host = await StartAsync(settings: new Dictionary<string, string?>
        {
            ["RateLimits:AdminCallsPerUserPerMinute"] = "1",
            ["RateLimits:AdminCallBurst"] = "4",
        });
        var admin = await host.FirstAdminAsync();
        using var other = await host.AdminClientAsync(); // the operator's promote: one of their 4 calls

        var reads = new[]
        {
            (await admin.GetAsync("api/v1/admin/users")).StatusCode,
            (await admin.GetAsync("api/v1/admin/audit")).StatusCode,
            (await admin.GetAsync("api/v1/admin/settings")).StatusCode,
        };
        var refused = await admin.GetAsync("api/v1/admin/invites");
        var byTheOther = await other.GetAsync("api/v1/admin/invites");

        Assert.That(reads, Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(refused.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.FromSeconds(30)), "one call a minute: the next in about 60 s");
        Assert.That(refused.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That((await ApiClient.ReadAsync(refused)).GetProperty("status").GetInt32(), Is.EqualTo(429));
        Assert.That(byTheOther.StatusCode, Is.EqualTo(HttpStatusCode.OK), "each admin has a bucket of their own");
        Assert.That((await AuditAsync(host)).Where(a => a.Command == "invites").Select(a => a.Outcome),
            Is.EqualTo(new[] { AuditOutcome.Succeeded }), "the other admin's read is audited; the 429 did nothing and left no row");
    }

    [Test]
    public async Task ANonAdminsAttempts_AreAuditedWhileTheirAdminBucketLasts_Then429_WithNoRow()
    {
        // Each refused attempt writes an audit row: without a bound, a member's script could fill the audit log.
        await using var host = await StartAsync(settings: new Dictionary<string, string?>
        {
            ["RateLimits:AdminCallsPerUserPerMinute"] = "1",
            ["RateLimits:AdminCallBurst"] = "3",
        });
        using var user = host.NewClient();
        var name = await user.SignUpAsync();

        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add((await user.GetAsync("api/v1/admin/audit")).StatusCode);
        }

        var last = await user.GetAsync("api/v1/admin/users");
        var rows = (await AuditAsync(host)).Count(a => a.Actor.EndsWith($"({name})", StringComparison.Ordinal));

        Assert.That(answers, Is.EqualTo(new[]
        {
            HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden,
            HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
        }));
        Assert.That(last.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(last.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
        Assert.That(rows, Is.EqualTo(3), "one row per attempt the bucket let through, none after");
        Assert.That((await (await host.FirstAdminAsync()).GetAsync("api/v1/admin/audit")).StatusCode, Is.EqualTo(HttpStatusCode.OK),
            "the admin's own bucket is untouched");
    }

    [Test]
    public async Task Dashboard_AfterRealMessages_CountsThemPerMinuteFromTheModel_WithLatencyQueueAndTheHostsSpeed()
    {
        await using var host = await StartAsync(withEngine: true);
        var admin = await host.FirstAdminAsync();
        using var user = host.NewClient();
        await user.SignUpAsync();
        var chat = await user.CreateSessionAsync();
        for (var i = 0; i < 3; i++)
        {
            (await user.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = $"hello {i}" })).EnsureSuccessStatusCode();
        }

        var series = await SeriesOfTheHourAsync(admin, requests: 3);
        var status = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/status"));
        var week = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/metrics/series?period=7d"));

        Assert.That(series.GetProperty("requests").GetInt32(), Is.EqualTo(3));
        Assert.That(series.GetProperty("bucketSeconds").GetInt32(), Is.EqualTo(60));
        Assert.That(series.GetProperty("times").GetArrayLength(), Is.EqualTo(60));
        Assert.That(Numbers(series, "modelPerMinute").Sum(), Is.EqualTo(3));
        Assert.That(Numbers(series, "fallbackPerMinute").Sum() + Numbers(series, "noticePerMinute").Sum(), Is.Zero);
        Assert.That(Numbers(series, "latencyP50Ms").Count(v => !double.IsNaN(v)), Is.GreaterThanOrEqualTo(1));
        Assert.That(Numbers(series, "latencyP99Ms").Where(v => !double.IsNaN(v)), Is.All.GreaterThanOrEqualTo(0));
        Assert.That(Numbers(series, "firstTokenP50Ms").Count(v => !double.IsNaN(v)), Is.GreaterThanOrEqualTo(1));
        Assert.That(series.GetProperty("queueLength").GetArrayLength(), Is.EqualTo(60));
        var hosts = series.GetProperty("hosts").EnumerateArray().ToArray();
        Assert.That(hosts, Has.Length.EqualTo(1), "the embedded worker answered");
        var workers = status.GetProperty("platform").GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("id").GetString());
        Assert.That(workers, Does.Contain(hosts[0].GetProperty("workerId").GetString()), "the status names the same host");
        Assert.That(status.GetProperty("defaultModel").GetString(), Is.Not.Empty);
        Assert.That(week.GetProperty("bucketSeconds").GetInt32(), Is.EqualTo(3600));
        Assert.That(Numbers(week, "modelPerMinute").Sum() * 60, Is.EqualTo(3).Within(1e-9), "per minute of an hour's bucket");
        Assert.That((await AuditAsync(host)).Count(a => a.Command == "dashboard" && a.Outcome == AuditOutcome.Succeeded),
            Is.GreaterThanOrEqualTo(2));
    }

    [Test]
    public async Task Dashboard_TimeToFirstToken_IsMeasured_FromTheMessageToTheFirstPieceOfItsAnswer()
    {
        // The engine reports no prompt time and its first word waits: the stored queue, relay and prompt times would
        // tell a time to first token of a few milliseconds; the measurement sees the wait.
        var firstPieceAfter = TimeSpan.FromMilliseconds(1_500);
        await using var host = await StartAsync(withEngine: true);
        host.Engine.Reply = _ => "Hello";
        host.Engine.DelayBetweenWords = firstPieceAfter;
        host.Engine.PauseBeforeFirstWord = true;
        var admin = await host.FirstAdminAsync();
        using var user = host.NewClient();
        await user.SignUpAsync();
        var chat = await user.CreateSessionAsync();

        (await user.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "hello" })).EnsureSuccessStatusCode();
        var series = await SeriesOfTheHourAsync(admin, requests: 1);

        var p50 = Numbers(series, "firstTokenP50Ms").Where(v => !double.IsNaN(v)).ToArray();
        var p99 = Numbers(series, "firstTokenP99Ms").Where(v => !double.IsNaN(v)).ToArray();
        Assert.That(p50, Has.Length.EqualTo(1), "one bucket holds the answer");
        Assert.That(p50[0], Is.GreaterThanOrEqualTo(firstPieceAfter.TotalMilliseconds));
        Assert.That(p99, Is.EqualTo(p50), "one answer: its p99 is its p50");
    }

    /// <summary>The last hour's series once it counts <paramref name="requests"/> (figures are written in batches, a moment after each answer).</summary>
    private static async Task<JsonElement> SeriesOfTheHourAsync(ApiClient admin, int requests)
    {
        JsonElement series;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        do
        {
            series = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/metrics/series?period=1h"));
            if (series.GetProperty("requests").GetInt32() >= requests)
            {
                break;
            }

            await Task.Delay(200);
        }
        while (DateTime.UtcNow < deadline);
        return series;
    }

    private static double[] Numbers(JsonElement series, string name) =>
        [.. series.GetProperty(name).EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? double.NaN : v.GetDouble())];
}
