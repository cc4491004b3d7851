using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Status.Queries;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Domain.Common;
using MeatLizard.Presentation.DiscordServer.Commands;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>The server bot's admin slash commands against the fake Discord, with the hosts composed as in production.</summary>
public sealed partial class AdminSlashCommandTests : TwoBotsTest
{
    private string _channel = null!;

    [SetUp]
    public void LinkToThePublicAddress() => Bots.Extra["Discord:PublicBaseUrl"] = "https://chat.example";

    private async Task StartAsync(bool withWorker = true)
    {
        await Bots.StartServerAsync();
        if (withWorker)
        {
            await Bots.StartClientAsync();
        }

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Fake.RegisteredCommands.Count > 0), Is.True);
        _channel = Bots.Fake.CreateChannel("admin").Id;
    }

    private Task<string> InvokeAsync(bool admin, string name, params (string Name, JsonNode Value)[] options) =>
        Bots.Fake.InvokeCommandAsync(Bots.ServerBot, _channel, admin ? "42" : "43", admin, name, Options(options));

    private static JsonArray Options((string Name, JsonNode Value)[] options) =>
        [.. options.Select(o => (JsonNode)new JsonObject
        {
            ["name"] = o.Name,
            ["type"] = o.Value.GetValueKind() switch
            {
                System.Text.Json.JsonValueKind.Number => 4,
                System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => 5,
                _ => 3,
            },
            ["value"] = o.Value,
        })];

    /// <summary>The answer the member finally sees: an immediate reply, or @original edited after a deferral.</summary>
    private Task<(JsonObject First, string Content)> AnswerAsync(string interaction) => Bots.Fake.AnswerOfAsync(interaction);

    private async Task<IReadOnlyList<AuditEntry>> AuditAsync()
    {
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(50, CancellationToken.None);
    }

    [Test]
    public async Task EveryAdminCommand_IsRegisteredAsAGuildCommand_ForAdminsOnly_BesideTheMembersOwn()
    {
        await StartAsync(withWorker: false);

        Assert.That(Bots.Fake.RegisteredCommands, Is.EquivalentTo(new[]
        {
            "status", "workers", "sessions", "session", "ratelimit", "ban", "unban", "approve", "reject", "promote", "demote",
            "password-reset", "drain", "undrain", "model", "fallback", "transcript", "backup",
            "chat-channels", "chat-model", "metrics", "delete-user", "invite", "registration", "audit",
            "ask", "reset", "persona", "help", "link", "search", "share",
        }));
        var registration = Bots.Fake.Requests.Last(r => r.Template.EndsWith("/commands", StringComparison.Ordinal));
        var commands = JsonNode.Parse(registration.Body!)!.AsArray();
        string[] everyone = ["status", "model", "ask", "reset", "persona", "help", "link", "search", "share"];
        Assert.That(commands.Where(c => !everyone.Contains(c!["name"]!.GetValue<string>()))
            .Select(c => c!["default_member_permissions"]?.GetValue<string>()), Is.All.EqualTo("0"));
        Assert.That(commands.Where(c => everyone.Contains(c!["name"]!.GetValue<string>()))
            .Select(c => c!["default_member_permissions"]), Is.All.Null, "every member sees these");
        Assert.That(registration.Template, Does.Contain("/guilds/{guild_id}/commands"), "guild commands, bulk-overwritten");
    }

    [Test]
    public async Task ACommandByANonAdmin_IsRefusedEphemerally_ChangesNothing_AndIsAudited()
    {
        await StartAsync(withWorker: false);

        var refused = await InvokeAsync(admin: false, "fallback", ("mode", "markov"));

        var (first, content) = await AnswerAsync(refused);
        Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(4), "refused at once, not deferred");
        Assert.That(first["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64), "only the member sees it");
        Assert.That(content, Is.EqualTo(DiscordAdminCommands.NotAdmin));
        var row = (await AuditAsync()).Single();
        Assert.That((row.Actor, row.Command, row.Arguments, row.Outcome),
            Is.EqualTo(("discord:43 (someone)", "fallback", "mode=markov", AuditOutcome.Refused)));
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        Assert.That(await scope.ServiceProvider.GetRequiredService<IFallbackResponder>().GetModeAsync(CancellationToken.None),
            Is.EqualTo(FallbackMode.Inform));
    }

    [Test]
    public async Task RateLimit_ByAnAdmin_AnswersAtOnce_AndTheLimiterUsesItFromNowOn()
    {
        await StartAsync(withWorker: false);

        var set = await InvokeAsync(admin: true, "ratelimit", ("scope", "user"), ("per-minute", 2));

        var (first, content) = await AnswerAsync(set);
        Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(4));
        Assert.That(content, Is.EqualTo("The user rate limit is now 2 per minute (burst 10)."));
        var limiter = Bots.Server!.Services.GetRequiredService<IRateLimiter>();
        var decisions = new List<bool>();
        for (var i = 0; i < 12; i++)
        {
            decisions.Add((await limiter.TryAcquireAsync(RateLimitScope.User, "u1", CancellationToken.None)).Allowed);
        }

        Assert.That(decisions.Count(d => d), Is.EqualTo(10), "the burst, then the bucket refills at 2 per minute");
        var decision = await limiter.TryAcquireAsync(RateLimitScope.User, "u1", CancellationToken.None);
        Assert.That(decision.RetryAfter, Is.GreaterThan(TimeSpan.FromSeconds(20)), "one token takes 30 s at 2 per minute");
        Assert.That((await AuditAsync()).Single().Outcome, Is.EqualTo(AuditOutcome.Succeeded));
    }

    [Test]
    public async Task WithTwoServerBots_EachCommandIsDoneAndAnsweredOnce()
    {
        // Both bots' gateway sessions receive every interaction: without a claim both ran the command (two audit rows,
        // a backup twice) and one of them got Discord's 40060 for its answer.
        await StartAsync(withWorker: false);
        await Bots.StartSecondServerAsync();

        var set = await InvokeAsync(admin: true, "ratelimit", ("scope", "user"), ("per-minute", 7));
        var (_, content) = await AnswerAsync(set);
        await Task.Delay(TimeSpan.FromSeconds(1)); // the other bot's turn to answer too, were it to
        var audit = await AuditAsync();

        Assert.Multiple(() =>
        {
            Assert.That(content, Is.EqualTo("The user rate limit is now 7 per minute (burst 10)."));
            Assert.That(Bots.Fake.InteractionAnswers.Count(a => a["interaction_id"]?.GetValue<string>() == set), Is.EqualTo(1));
            Assert.That(Bots.Fake.InteractionsAnsweredTwice, Is.Zero, "no bot's answer came second");
            Assert.That(audit.Count(a => a.Command == "ratelimit"), Is.EqualTo(1), "done once");
        });
    }

    [Test]
    public async Task Status_ListsTheServerBotsRunning_OneOrThePair()
    {
        await StartAsync(withWorker: false);
        var alone = await StatusUntilAsync("Server bots: 1 (");
        await Bots.StartSecondServerAsync();
        var paired = await StatusUntilAsync("Server bots: 2 (");
        await Bots.StopSecondServerAsync(); // a stop lets its lease go at once
        var (_, aloneAgain) = await AnswerAsync(await InvokeAsync(admin: true, "status"));

        Assert.Multiple(() =>
        {
            Assert.That(alone, Does.Contain("Server bots: 1 ("));
            Assert.That(paired, Does.Contain("Server bots: 2 ("));
            Assert.That(aloneAgain, Does.Contain("Server bots: 1 ("));
        });
    }

    /// <summary>
    /// /status until it says <paramref name="expected"/>, for up to 10 s: a server bot takes its presence lease in the
    /// background once it runs, so one that has just started shows a moment later (it failed under load when read at
    /// once).
    /// </summary>
    private async Task<string> StatusUntilAsync(string expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var (_, status) = await AnswerAsync(await InvokeAsync(admin: true, "status"));
            if (status.Contains(expected, StringComparison.Ordinal) || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(100);
        }
    }

    [Test]
    public async Task ADeferredCommand_EditsOriginal_WithTheTranscriptLinks()
    {
        await StartAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "hello there");

        var asked = await InvokeAsync(admin: true, "transcript", ("session", chat.ToString()));

        var (first, content) = await AnswerAsync(asked);
        Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(5), "deferred first");
        Assert.That(first["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64));
        Assert.That(content, Does.StartWith($"Transcript of chat `{chat:D}` stored."));
        Assert.That(content, Does.Match(@"JSON: https://chat\.example/\S+"));
        Assert.That(content, Does.Match(@"CSV: https://chat\.example/\S+"));
        Assert.That(content, Does.Not.Contain("hello there"), "the transcript's text stays out of Discord");
    }

    [Test]
    public async Task Backup_ByAnAdmin_IsMadeNow_AndReported()
    {
        await StartAsync(withWorker: false);

        var (first, content) = await AnswerAsync(await InvokeAsync(admin: true, "backup"));

        Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(5));
        Assert.That(content, Does.Match(@"^Backup stored: `backups/[^`]+` \(.+, SHA-256 [0-9a-f]{12}…\)"));
    }

    [Test]
    public async Task SessionsCloseBanAndUnban_WorkOnThePlatformsData()
    {
        await StartAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "hi");
        string username;
        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            username = (await scope.ServiceProvider.GetRequiredService<IUserRepository>().GetAsync(Bots.User.Id!.Value, CancellationToken.None))!.Username.Value;
        }

        var (_, listed) = await AnswerAsync(await InvokeAsync(admin: true, "sessions", ("user", username)));
        Assert.That(listed, Does.Contain($"`{chat:D}`").And.Contain("2 message(s)").And.Contain("active"));

        var close = await Bots.Fake.InvokeCommandAsync(Bots.ServerBot, _channel, "42", admin: true, "session",
            [new JsonObject { ["name"] = "close", ["type"] = 1, ["options"] = new JsonArray(new JsonObject { ["name"] = "id", ["type"] = 3, ["value"] = chat.ToString() }) }]);
        Assert.That((await AnswerAsync(close)).Content, Does.StartWith($"Closed chat `{chat:D}`"));

        Assert.That((await AnswerAsync(await InvokeAsync(admin: true, "ban", ("user", username)))).Content, Is.EqualTo($"{username} is now banned."));
        Assert.That(async () => await Bots.SendAsync(new CreateApiKey("k")), Throws.InstanceOf<BusinessRuleViolationException>(),
            "a banned user can do nothing");
        Assert.That((await AnswerAsync(await InvokeAsync(admin: true, "unban", ("user", username)))).Content, Is.EqualTo($"{username} is now not banned."));

        var audit = await AuditAsync();
        Assert.That(audit.Select(a => a.Command).Reverse(), Is.EqualTo(new[] { "sessions", "session close", "ban", "unban" }));
        Assert.That(audit.Select(a => a.Outcome), Is.All.EqualTo(AuditOutcome.Succeeded));
    }

    /// <summary>
    /// The web console and the slash commands change the same settings: what /fallback, /ratelimit and /model set is what
    /// the console reads (the query its GET /api/v1/admin/settings sends), and what the console sets (its PUTs' commands,
    /// from a web admin) is what /status shows.
    /// </summary>
    [Test]
    public async Task SettingsChangedBySlashCommands_AreWhatTheConsoleReads_AndTheConsolesChangesShowInStatus()
    {
        await StartAsync(withWorker: false);
        var webAdmin = new AdminActor("user:00000000-0000-0000-0000-000000000001", "root", IsAdmin: true);

        await AnswerAsync(await InvokeAsync(admin: true, "fallback", ("mode", "markov")));
        await AnswerAsync(await InvokeAsync(admin: true, "ratelimit", ("scope", "guild"), ("per-minute", 12)));
        await AnswerAsync(await InvokeAsync(admin: true, "model", ("name", "from-discord")));
        var read = await Bots.SendAsync(new GetAdminSettings(webAdmin));

        Assert.That(read.FallbackMode, Is.EqualTo("markov"));
        Assert.That(read.DefaultModel, Is.EqualTo("from-discord"));
        Assert.That(read.RateLimits.Single(r => r.Scope == "guild").PerMinute, Is.EqualTo(12));
        Assert.That(read.Changes.Single(c => c.Key == SettingKeys.FallbackMode).UpdatedBy, Does.StartWith("discord:42"));

        await Bots.SendAsync(new SetFallbackMode(webAdmin, "inform"));
        await Bots.SendAsync(new SetDefaultModel(webAdmin, "from-the-console"));
        var (_, status) = await AnswerAsync(await InvokeAsync(admin: true, "status"));

        Assert.That(status, Does.Contain("fallback: inform").IgnoreCase.And.Contain("default model: from-the-console"));
    }

    [Test]
    public async Task BadArgumentsAndUnknownNames_GetAClearEphemeralAnswer_AndAreAudited()
    {
        await StartAsync(withWorker: false);

        var (_, period) = await AnswerAsync(await InvokeAsync(admin: true, "metrics", ("period", "5 weeks")));
        var (_, nobody) = await AnswerAsync(await InvokeAsync(admin: true, "ban", ("user", "nobody")));

        Assert.That(period, Is.EqualTo("/metrics: " + Application.Admin.Queries.MetricsPeriod.Rule));
        Assert.That(nobody, Is.EqualTo("/ban: There is no user named nobody."));
        Assert.That((await AuditAsync()).Select(a => a.Outcome), Is.EqualTo(new[] { AuditOutcome.Refused, AuditOutcome.Invalid }));
    }

    [Test]
    public async Task FallbackMarkov_SetByAnAdmin_AnswersTheNextMessageWhenNoWorkerIsOnline()
    {
        await StartAsync(withWorker: false);
        Assert.That((await AnswerAsync(await InvokeAsync(admin: true, "fallback", ("mode", "markov")))).Content, Does.Contain("Markov"));
        var chat = await Bots.StartChatAsync();

        var answer = await Bots.AskAsync(chat, "anyone there?");

        Assert.That(answer.Source, Is.EqualTo("fallback"));
    }

    [Test]
    public async Task Metrics_AfterAChat_CountIt_AndTheSummaryIsPostedToTheMetricsChannelPeriodically()
    {
        var metricsChannel = Bots.Fake.CreateChannel("ai-metrics").Id;
        Bots.Extra["Discord:MetricsChannelId"] = metricsChannel;
        Bots.Extra["Discord:MetricsInterval"] = "00:00:01";
        await StartAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "count me");

        // Figures are written in batches: wait until the answer is in the table.
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Fake.Messages(metricsChannel)
            .Any(m => m.Content.Contains("requests: 1 ", StringComparison.Ordinal)), TimeSpan.FromSeconds(20)), Is.True,
            "a summary counting the chat was posted to the metrics channel");
        var (first, content) = await AnswerAsync(await InvokeAsync(admin: true, "metrics", ("period", "1h")));

        Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(5));
        Assert.That(content, Does.StartWith("**MeatLizard — last 1h**"));
        Assert.That(content, Does.Contain("requests: 1 ").And.Contain("fallback rate: 0%").And.Contain("errors: 0"));
        Assert.That(content, Does.Match(@"p50 latency: [\d,]+ ms"));
        var post = Bots.Fake.Messages(metricsChannel).First(m => m.Content.Contains("requests: 1 ", StringComparison.Ordinal));
        Assert.That(post.AuthorId, Is.EqualTo(Bots.ServerBot.UserId));
        Assert.That(post.Content, Does.StartWith("**MeatLizard — last 1 s**"));
        Assert.That(post.Content, Does.Contain("p95 latency:").And.Contain("tokens/s:"));
    }

    [Test]
    public async Task Workers_ListsEachModelHost_WithItsModelsSlotsAndLastHeartbeat()
    {
        Bots.Extra["Host:HostName"] = "attic-mac";
        await StartAsync();
        var presence = Bots.Server!.Services.GetRequiredService<IHostPresence>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await presence.ListAliveAsync(CancellationToken.None)).Count == 0)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the client bot's heartbeat reached the server");
            await Task.Delay(100);
        }

        var (first, content) = await AnswerAsync(await InvokeAsync(admin: true, "workers"));

        Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(5), "deferred, then answered");
        Assert.That(content, Does.StartWith("**1 model host(s) online**"));
        Assert.That(content, Does.Contain("**attic-mac**").And.Contain("ready").And.Contain("seen "));
        var row = (await AuditAsync()).Single(r => r.Command == "workers");
        Assert.That(row.Outcome, Is.EqualTo(AuditOutcome.Succeeded));
    }

    /// <summary>
    /// /drain and /undrain send the console's command (DrainHost): the same setting every process reads at the host's
    /// heartbeat, so the console shows the host drained by an admin; audited as the console's are.
    /// </summary>
    [Test]
    public async Task DrainAndUndrain_ByAnAdmin_DrainTheHostTheConsoleShows_AndAreAuditedAsTheConsolesAre()
    {
        await StartAsync();
        var webAdmin = new AdminActor("user:00000000-0000-0000-0000-000000000001", "root", IsAdmin: true);
        var host = (await Bots.SendAsync(new GetAdminStatus(webAdmin))).Platform.Workers.Single().Id;

        var (first, drained) = await AnswerAsync(await InvokeAsync(admin: true, "drain", ("host", host.ToString())));
        var shown = await WorkerUntilAsync(webAdmin, w => w.DrainedByAdmin && w.Draining);
        var (_, workers) = await AnswerAsync(await InvokeAsync(admin: true, "workers"));
        var (_, undrained) = await AnswerAsync(await InvokeAsync(admin: true, "undrain", ("host", host.ToString())));
        var back = await WorkerUntilAsync(webAdmin, w => !w.DrainedByAdmin && !w.Draining);
        var (_, mistyped) = await AnswerAsync(await InvokeAsync(admin: true, "drain", ("host", "attic-mac")));
        var stranger = Guid.NewGuid();
        var (_, unknown) = await AnswerAsync(await InvokeAsync(admin: true, "drain", ("host", stranger.ToString())));
        var refused = await InvokeAsync(admin: false, "undrain", ("host", host.ToString()));
        var (_, byMember) = await AnswerAsync(refused);
        var audit = (await AuditAsync()).Where(a => a.Command is "drain" or "undrain").Reverse()
            .Select(a => (a.Actor, a.Command, a.Arguments, a.Outcome));

        Assert.Multiple(() =>
        {
            Assert.That(first["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64), "only the admin sees it");
            Assert.That(drained, Does.StartWith($"Model host `{host:D}` is drained"));
            Assert.That(shown.DrainedByAdmin, Is.True, "the console shows what /drain did");
            Assert.That(workers, Does.Contain($"`{host:D}`").And.Contain("drained by an admin"), "/workers names the id /drain takes");
            Assert.That(undrained, Does.StartWith($"Model host `{host:D}` takes new questions again"));
            Assert.That(back.Draining, Is.False);
            Assert.That(mistyped, Is.EqualTo("/drain: " + DrainHostValidator.Message));
            Assert.That(unknown, Does.StartWith("/drain: No model host with id"));
            Assert.That(byMember, Is.EqualTo(DiscordAdminCommands.NotAdmin));
            Assert.That(audit, Is.EqualTo(new (string, string, string?, AuditOutcome)[]
            {
                ("discord:42 (someone)", "drain", $"host={host:D}", AuditOutcome.Succeeded),
                ("discord:42 (someone)", "undrain", $"host={host:D}", AuditOutcome.Succeeded),
                ("discord:42 (someone)", "drain", $"host={Guid.Empty:D}", AuditOutcome.Invalid),
                ("discord:42 (someone)", "drain", $"host={stranger:D}", AuditOutcome.Refused),
                ("discord:43 (someone)", "undrain", $"host={host:D}", AuditOutcome.Refused),
            }));
        });
    }

    /// <summary>The one host as the console's status query shows it, once <paramref name="until"/> holds (its next heartbeat).</summary>
    private async Task<WorkerStatusDto> WorkerUntilAsync(AdminActor admin, Func<WorkerStatusDto, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var worker = (await Bots.SendAsync(new GetAdminStatus(admin))).Platform.Workers.Single();
            if (until(worker) || DateTime.UtcNow > deadline)
            {
                return worker;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>
    /// /password-reset sends the console's command (CreatePasswordReset) for a web account named by its username: the
    /// link goes to the admin alone (ephemeral), works to set a new password, and its code is in no audit row nor log line.
    /// </summary>
    [Test]
    public async Task PasswordReset_ByAnAdmin_IsAOneTimeLinkOnlyTheAdminSees_AndItsCodeIsNeitherAuditedNorLogged()
    {
        Bots.ServerLogs = new RecordedLogs();
        await StartAsync(withWorker: false);
        await Bots.SendAsync(new RegisterUser("carol", "correct horse battery"));

        var asked = await InvokeAsync(admin: true, "password-reset", ("user", "carol"), ("hours", 2));
        var (first, content) = await AnswerAsync(asked);
        var code = Uri.UnescapeDataString(System.Text.RegularExpressions.Regex
            .Match(content, @"https://chat\.example/\?reset=(\S+)").Groups[1].Value);
        var (_, nobody) = await AnswerAsync(await InvokeAsync(admin: true, "password-reset", ("user", "nobody")));
        var (_, byMember) = await AnswerAsync(await InvokeAsync(admin: false, "password-reset", ("user", "carol")));
        var usedBy = await Bots.SendAsync(new ResetPassword(code, "a brand new passphrase"));
        var audit = (await AuditAsync()).Where(a => a.Command == "password-reset").Reverse().ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(4), "answered at once");
            Assert.That(first["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64), "only the admin sees the link");
            Assert.That(content, Does.StartWith("One-time password reset link for **carol**"));
            Assert.That(code, Is.Not.Empty);
            Assert.That(usedBy, Is.EqualTo("carol"), "the link sets carol's password");
            Assert.That(nobody, Is.EqualTo("/password-reset: There is no user named nobody."));
            Assert.That(byMember, Is.EqualTo(DiscordAdminCommands.NotAdmin));
            Assert.That(Bots.Fake.Messages(_channel).Select(m => m.Content), Has.None.Contain(code), "nothing posted in the channel");
            Assert.That(audit.Select(a => (a.Actor, a.Arguments, a.Outcome)), Is.EqualTo(new (string, string?, AuditOutcome)[]
            {
                ("discord:42 (someone)", "user=carol hours=2", AuditOutcome.Succeeded),
                ("discord:42 (someone)", "user=nobody hours=24", AuditOutcome.Refused),
                ("discord:43 (someone)", "user=carol hours=24", AuditOutcome.Refused),
            }));
            Assert.That(System.Text.Json.JsonSerializer.Serialize(audit), Does.Not.Contain(code));
            Assert.That(Bots.ServerLogs.Entries.Select(e => e.Message), Has.None.Contain(code), "never logged");
            Assert.That(Bots.ServerLogs.Entries, Is.Not.Empty, "the server bot's log was recorded");
        });
    }

    /// <summary>
    /// /approve, /reject, /promote and /demote send the console's account commands, by username, audited alike; a member
    /// may not. (The last admin staying one is the command's own rule, tested with it.)
    /// </summary>
    [Test]
    public async Task ApproveRejectPromoteAndDemote_AreTheConsolesCommands_AuditedAlike()
    {
        await StartAsync(withWorker: false);
        await Bots.SendAsync(new SetRegistrationPolicy(new AdminActor("test:1", "admin", true), "approval"));
        foreach (var name in new[] { "erin", "frank", "gina" })
        {
            await Bots.SendAsync(new RegisterUser(name, "correct horse battery"));
        }

        async Task<string> AdminAsync(string command, string user) =>
            (await AnswerAsync(await InvokeAsync(admin: true, command, ("user", user)))).Content;
        var byMember = (await AnswerAsync(await InvokeAsync(admin: false, "approve", ("user", "erin")))).Content;
        var answers = new[]
        {
            await AdminAsync("approve", "erin"), await AdminAsync("approve", "gina"), await AdminAsync("reject", "frank"),
            await AdminAsync("promote", "erin"), await AdminAsync("promote", "gina"), await AdminAsync("promote", "gina"),
            await AdminAsync("demote", "gina"), await AdminAsync("demote", "erin"),
        };
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
        var erin = await users.GetByUsernameAsync("erin", CancellationToken.None);
        var frank = await users.GetByUsernameAsync("frank", CancellationToken.None);
        var gina = await users.GetByUsernameAsync("gina", CancellationToken.None);
        var audit = (await AuditAsync()).Where(a => a.Command is "approve" or "reject" or "promote" or "demote").Reverse().ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(byMember, Is.EqualTo(DiscordAdminCommands.NotAdmin));
            Assert.That(answers, Is.EqualTo(new[]
            {
                "erin is now approved.", "gina is now approved.", "frank is now rejected.", "erin is now an admin.",
                "gina is now an admin.", "gina was already an admin.", "gina is now a plain user.", "erin is now a plain user.",
            }));
            Assert.That((erin!.IsAwaitingApproval, erin.IsAdmin), Is.EqualTo((false, false)));
            Assert.That((gina!.IsAwaitingApproval, gina.IsAdmin), Is.EqualTo((false, false)));
            Assert.That(frank, Is.Null, "a rejected account is deleted");
            Assert.That(audit.Select(a => (a.Command, a.Arguments, a.Outcome)), Is.EqualTo(new (string, string?, AuditOutcome)[]
            {
                ("approve", "user=erin", AuditOutcome.Refused), ("approve", "user=erin", AuditOutcome.Succeeded),
                ("approve", "user=gina", AuditOutcome.Succeeded), ("reject", "user=frank", AuditOutcome.Succeeded),
                ("promote", "user=erin", AuditOutcome.Succeeded), ("promote", "user=gina", AuditOutcome.Succeeded),
                ("promote", "user=gina", AuditOutcome.Succeeded), ("demote", "user=gina", AuditOutcome.Succeeded),
                ("demote", "user=erin", AuditOutcome.Succeeded),
            }));
        });
    }
}
