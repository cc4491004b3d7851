using System.Net;
using System.Text.RegularExpressions;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Presentation.DiscordServer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// Issue 37's "the server bot's <c>setup</c> can also make or promote an admin": <c>setup --admin USER</c> beside a
/// running API, on its store (the same SQLite file, or the same PostgreSQL database and Redis), against the loopback
/// Discord. On a platform with no admin it prints the setup link for an account that does not exist yet, and whoever
/// registers through it is the first admin; an existing account becomes an admin (the API's own <c>admin promote</c>
/// command, audited as <c>cli</c>), once (a second run says so), also when the verb runs as the server bot's process;
/// an account that is not there once there is an admin, or a banned one, is one FAIL line and exit 1. Run before the
/// first start, as on a first install, it migrates the new database, and its link works once the API runs.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed partial class ServerBotSetupAdminTests(string storage)
{
    private const string Password = "correct horse battery";

    private ApiHost? _api;
    private FakeDiscordServer _fake = null!;
    private FakeBot _server = null!;
    private FakeBot _client = null!;
    private DirectoryInfo _work = null!;

    /// <summary>The running API whose store setup uses, or (before the first start) a new store of the test's own.</summary>
    private IReadOnlyDictionary<string, string?> _store = null!;

    private ApiHost Api => _api!;

    /// <summary>A store made before the API starts, dropped after it stopped.</summary>
    private StorageProvider? _fresh;

    [SetUp]
    public async Task SetUp()
    {
        _fake = await FakeDiscordServer.StartAsync();
        _server = _fake.AddBot("meatlizard-server");
        _client = _fake.AddBot("meatlizard-client");
        _work = Directory.CreateTempSubdirectory("ml-setup-admin-");
    }

    [TearDown]
    public async Task TearDown()
    {
        await _fake.DisposeAsync();
        if (_api is not null)
        {
            await Api.DisposeAsync();
        }

        if (_fresh is not null)
        {
            await _fresh.DisposeAsync();
        }

        _work.Delete(recursive: true);
    }

    [Test]
    public async Task SetupAdmin_LinksTheFirstAdmin_ThenPromotesAnAccount_Once_AuditedAsTheCli_AndRefusesWhatItCannotDo()
    {
        _api = await new ApiHost(withEngine: false, storage: storage, firstAdmin: false).StartAsync();
        _store = Api.SharedStoreSettings;
        var publicBaseUrl = Api.BaseAddress.ToString();
        // A new platform: no admin, no account "root". setup hands out the first admin's link, on the public address.
        var (linked, linkLines) = await SetupAsync("root", publicBaseUrl);
        var linkLine = linkLines.Single(l => l.Contains("web admin:", StringComparison.Ordinal));
        var link = SetupLink().Match(linkLine);
        using var root = Api.NewClient();
        var registered = await root.PostAsync("api/v1/auth/register",
            new { username = "root", password = Password, setupToken = Uri.UnescapeDataString(link.Groups["token"].Value) });
        var rootRole = (await ApiClient.ReadAsync(registered)).GetProperty("role").GetString();
        await root.SignInAsync("root", Password);

        // Accounts registered in the web app, signed in only after setup ran (a process reads a user through a cache).
        using var dora = Api.NewClient();
        using var eve = Api.NewClient();
        (await dora.PostAsync("api/v1/auth/register", new { username = "dora", password = Password })).EnsureSuccessStatusCode();
        (await eve.PostAsync("api/v1/auth/register", new { username = "eve", password = Password })).EnsureSuccessStatusCode();
        var eveId = (await ApiClient.ReadAsync(await root.GetAsync("api/v1/admin/users?search=eve"))).EnumerateArray().Single()
            .GetProperty("id").GetString();
        (await root.PostAsync($"api/v1/admin/users/{eveId}/ban", null)).EnsureSuccessStatusCode();

        // The server bot's own process, as an operator runs it: dora becomes an admin.
        var (promotedExit, promotedOut) = await SetupProcessAsync(publicBaseUrl, "--admin", "dora");
        await dora.SignInAsync("dora", Password);
        var doraReads = (await dora.GetAsync("api/v1/admin/users")).StatusCode;
        var (againExit, againLines) = await SetupAsync("dora", publicBaseUrl);
        var (nobodyExit, nobodyLines) = await SetupAsync("nobody", publicBaseUrl);
        var (bannedExit, bannedLines) = await SetupAsync("eve", publicBaseUrl);
        await using var scope = Api.Services.CreateAsyncScope();
        var audit = (await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(50, CancellationToken.None))
            .Where(a => a.Command == "promote").Reverse().ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(linked, Is.Zero, string.Join("\n", linkLines));
            Assert.That(linkLine, Does.StartWith($"ok   web admin: no account root and no admin yet: the first admin registers at {Api.BaseAddress}setup?token=")
                .And.Contain("(it works once; keep it to yourself)"));
            Assert.That(linkLines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)), Is.Empty);
            Assert.That(registered.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(rootRole, Is.EqualTo("admin"), "the account registered through setup's link is the first admin");

            Assert.That(promotedExit, Is.Zero, promotedOut);
            Assert.That(promotedOut, Does.Contain("ok   web admin: dora is an admin now (audited as cli)"));
            Assert.That(promotedOut, Does.Contain("ok   discord commands:"), "the Discord part ran as ever");
            Assert.That(doraReads, Is.EqualTo(HttpStatusCode.OK), "dora uses the admin console");
            Assert.That((againExit, againLines.Single(l => l.Contains("web admin:", StringComparison.Ordinal))),
                Is.EqualTo((0, "ok   web admin: dora is an admin already")));

            Assert.That(nobodyExit, Is.EqualTo(1));
            Assert.That(nobodyLines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).ToList(), Is.EqualTo(new[]
            {
                "FAIL web admin: There is no user named nobody. — register nobody in the web app first, then run setup --admin nobody "
                + "again (or promote an account in the admin console)",
            }), "there is an admin: no setup link");
            Assert.That(bannedExit, Is.EqualTo(1));
            Assert.That(bannedLines, Has.Some.StartWith("FAIL web admin: eve: This account is banned").And.Contain("unban or approve eve first"));

            Assert.That(audit.Select(a => (a.Arguments, a.Outcome)), Is.EqualTo(new (string?, AuditOutcome)[]
            {
                ("user=root", AuditOutcome.Refused), ("user=dora", AuditOutcome.Succeeded), ("user=dora", AuditOutcome.Succeeded),
                ("user=nobody", AuditOutcome.Refused), ("user=eve", AuditOutcome.Refused),
            }), "each promotion setup tried, in the API's audit log");
            Assert.That(audit.Select(a => a.Actor), Is.All.StartWith("cli ("));
            Assert.That(_fake.SchemaViolations, Is.Empty, "every request body must conform to Discord's OpenAPI spec");
        });
    }

    [Test]
    public async Task BeforeTheFirstStart_SetupAdmin_MigratesTheNewDatabase_AndItsLinkMakesTheFirstAdminOnceTheApiRuns()
    {
        // The first install's order (docs/operations.md): setup runs before the API or the bot ever started.
        _fresh = await StorageProvider.CreateAsync(storage);
        _store = storage == StorageProvider.Sqlite
            ? new Dictionary<string, string?> { ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(_work.FullName, "platform.db")}" }
            : _fresh.Settings;

        var (exitCode, lines) = await SetupAsync("alice", publicBaseUrl: null);
        var linkLine = lines.Single(l => l.Contains("web admin:", StringComparison.Ordinal));
        var token = Uri.UnescapeDataString(SetupLink().Match(linkLine).Groups["token"].Value);
        _api = await new ApiHost(_store.ToDictionary(s => s.Key, s => s.Value), withEngine: false, storage: storage, firstAdmin: false)
            .StartAsync();
        using var alice = Api.NewClient();
        var registered = await alice.PostAsync("api/v1/auth/register", new { username = "alice", password = Password, setupToken = token });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, string.Join("\n", lines));
            Assert.That(lines, Has.Some.Match(@"^ok   database: .*, 0 of \d+ migrations applied, \d+ pending"), "the check shows the new database");
            Assert.That(lines, Has.Some.Match(@"^ok   database: applied \d+ migrations, as the server bot does at start$"));
            Assert.That(linkLine, Does.StartWith("ok   web admin: no account alice and no admin yet: the first admin registers at /setup?token=")
                .And.EndWith("(it works once; keep it to yourself) — a path on the web app's address: set Discord:PublicBaseUrl for a full link"));
            Assert.That(registered.StatusCode, Is.EqualTo(HttpStatusCode.Created), "the link works once the API runs");
        });
        Assert.That((await ApiClient.ReadAsync(registered)).GetProperty("role").GetString(), Is.EqualTo("admin"));
    }

    /// <summary>The verb composed as the server bot's host composes it, in this process; its exit code and lines.</summary>
    private async Task<(int ExitCode, string[] Lines)> SetupAsync(string admin, string? publicBaseUrl)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Production",
            ContentRootPath = _work.FullName,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(Settings(publicBaseUrl));
        builder.Logging.ClearProviders();
        builder.AddDiscordServerSetup(admin);
        using var host = builder.Build();
        var output = new StringWriter();
        var exitCode = await host.RunDiscordServerSetupAsync(null, output);
        return (exitCode, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>The server bot's process running the verb, configured by its environment as an operator does it.</summary>
    private async Task<(int ExitCode, string Output)> SetupProcessAsync(string publicBaseUrl, params string[] arguments)
    {
        var environment = Settings(publicBaseUrl).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        await using var process = HostProcess.Start("setup", "MeatLizard.Presentation.DiscordServer", _work.FullName, environment,
            ["setup", .. arguments]);
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (exitCode, process.Output);
    }

    /// <summary>The server bot's settings for setup: the Discord ones, and the store (the database, and Redis).</summary>
    private Dictionary<string, string?> Settings(string? publicBaseUrl)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Discord:BotToken"] = _server.Token,
            ["Discord:GuildId"] = _fake.GuildId,
            ["Discord:ApiBaseUrl"] = _fake.ApiBaseUrl,
            ["Discord:ClientBotUserId"] = _client.UserId,
        };
        if (publicBaseUrl is not null)
        {
            settings["Discord:PublicBaseUrl"] = publicBaseUrl;
        }

        foreach (var (key, value) in _store)
        {
            settings[key] = value;
        }

        return settings;
    }

    [GeneratedRegex(@"/setup\?token=(?<token>[^ ]+) ")]
    private static partial Regex SetupLink();
}
