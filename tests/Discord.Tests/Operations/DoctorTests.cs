using System.Security.Cryptography;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Presentation.DiscordClient;
using MeatLizard.Presentation.DiscordServer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Operations;

/// <summary>
/// The bots' <c>doctor</c> verb, composed as the hosts compose it, against the loopback Discord: the token, the guild
/// and the server bot's channels are checked for real; failures name the setting and what to do; the relay key shows
/// only as a fingerprint both bots print alike; the exit code says whether anything failed.
/// </summary>
[TestFixture]
public sealed class DoctorTests
{
    private FakeDiscordServer _fake = null!;
    private FakeBot _server = null!;
    private FakeBot _client = null!;
    private DirectoryInfo _directory = null!;
    private readonly string _key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    [SetUp]
    public async Task SetUp()
    {
        _fake = await FakeDiscordServer.StartAsync();
        _server = _fake.AddBot("meatlizard-server");
        _client = _fake.AddBot("meatlizard-client");
        _directory = Directory.CreateTempSubdirectory("ml-doctor-");
    }

    [TearDown]
    public async Task TearDown()
    {
        await _fake.DisposeAsync();
        _directory.Delete(recursive: true);
    }

    [Test]
    public async Task ServerBot_AllConfiguredRight_EveryLineOk_ExitZero()
    {
        var archive = _fake.CreateCategory("meatlizard-archive");

        var (exitCode, lines) = await DoctorAsync(_server, new() { ["Discord:ArchiveCategoryId"] = archive.Id });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, string.Join("\n", lines));
            Assert.That(lines, Has.All.StartWith("ok   "));
            Assert.That(lines, Does.Contain($"ok   discord: token valid for meatlizard-server (user id {_server.UserId})"));
            Assert.That(lines, Does.Contain($"ok   discord guild: {_fake.GuildName} ({_fake.GuildId})"));
            Assert.That(lines, Does.Contain($"ok   discord category: meatlizard ({_fake.CategoryId})"));
            Assert.That(lines, Does.Contain($"ok   discord archive category: meatlizard-archive ({archive.Id})"));
            Assert.That(lines.Single(l => l.StartsWith("ok   database: SQLite", StringComparison.Ordinal)), Does.Contain("pending"));
            Assert.That(_fake.SchemaViolations, Is.Empty);
        });
    }

    [Test]
    public async Task BothBots_PrintTheSameKeyFingerprint_AndNeverTheKeyOrToken()
    {
        var (_, server) = await DoctorAsync(_server);
        var (clientExit, client) = await DoctorAsync(_client);
        var fingerprint = server.Single(l => l.Contains("relay keys", StringComparison.Ordinal));

        Assert.Multiple(() =>
        {
            Assert.That(clientExit, Is.Zero, string.Join("\n", client));
            Assert.That(fingerprint, Does.Match("^ok   relay keys: key 1 \\(active\\) fingerprint [0-9a-f]{16} "));
            Assert.That(client, Does.Contain(fingerprint));
            var everything = string.Join("\n", server.Concat(client));
            Assert.That(everything, Does.Not.Contain(_key).And.Not.Contain(_server.Token).And.Not.Contain(_client.Token));
            Assert.That(everything, Does.Not.Contain(Convert.ToHexString(Convert.FromBase64String(_key))).IgnoreCase);
        });
    }

    [Test]
    public async Task DifferentKeys_GiveDifferentFingerprints()
    {
        var (_, server) = await DoctorAsync(_server);
        var (_, client) = await DoctorAsync(_client,
            new() { ["Relay:Keys:0:Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) });

        Assert.That(client.Single(l => l.Contains("relay keys", StringComparison.Ordinal)),
            Is.Not.EqualTo(server.Single(l => l.Contains("relay keys", StringComparison.Ordinal))));
    }

    [Test]
    public async Task BadToken_Is401_NamesTheSetting_ExitOne()
    {
        var (exitCode, lines) = await DoctorAsync(_server, new() { ["Discord:BotToken"] = "not-a-token-" + Guid.NewGuid() });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            var line = lines.Single(l => l.Contains("discord", StringComparison.Ordinal));
            Assert.That(line, Does.StartWith("FAIL discord: 401 ").And.Contain("Discord:BotToken"));
            Assert.That(line, Does.Not.Contain("not-a-token"));
            Assert.That(lines.Where(l => !l.Contains("discord", StringComparison.Ordinal)), Has.All.StartWith("ok   "),
                "the other checks still run");
        });
    }

    [Test]
    public async Task DiscordUnreachable_FailsNamingTheAddress()
    {
        var port = FreePort();

        var (exitCode, lines) = await DoctorAsync(_server, new() { ["Discord:ApiBaseUrl"] = $"http://127.0.0.1:{port}/api/v10" });

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines.Single(l => l.Contains("discord", StringComparison.Ordinal)),
            Does.StartWith($"FAIL discord: cannot connect").And.Contain($"127.0.0.1:{port}").And.Contain("Discord:ApiBaseUrl"));
    }

    [Test]
    public async Task WrongGuild_FailsNamingTheSetting_AndTheCategoryIsSeenInAnotherGuild()
    {
        var (exitCode, lines) = await DoctorAsync(_server, new() { ["Discord:GuildId"] = "123456789012345678" });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines.Single(l => l.StartsWith("FAIL discord guild:", StringComparison.Ordinal)),
                Does.Contain("123456789012345678 is not a guild this bot is in").And.Contain("Discord:GuildId"));
            Assert.That(lines.Single(l => l.StartsWith("FAIL discord category:", StringComparison.Ordinal)),
                Does.Contain("is in another guild").And.Contain("Discord:CategoryId"));
        });
    }

    [Test]
    public async Task WrongChannels_EachFailsNamingItsSetting()
    {
        var text = _fake.CreateChannel("general", parentId: null);

        var (exitCode, lines) = await DoctorAsync(_server, new()
        {
            ["Discord:CategoryId"] = text.Id,
            ["Discord:ArchiveCategoryId"] = "223456789012345678",
        });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines.Single(l => l.StartsWith("FAIL discord category:", StringComparison.Ordinal)),
                Does.Contain($"general ({text.Id}) is not a category").And.Contain("Discord:CategoryId"));
            Assert.That(lines.Single(l => l.StartsWith("FAIL discord archive category:", StringComparison.Ordinal)),
                Does.Contain("no channel 223456789012345678").And.Contain("Discord:ArchiveCategoryId"));
            Assert.That(lines, Has.Some.StartWith("ok   discord guild:"));
        });
    }

    [Test]
    public async Task OtherBotsIdSetToItsOwn_Fails()
    {
        var (exitCode, lines) = await DoctorAsync(_client, new() { ["Discord:ServerBotUserId"] = _client.UserId });

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines, Has.Some.StartWith($"FAIL discord: Discord:ServerBotUserId is this bot's own id {_client.UserId}"));
    }

    private async Task<(int ExitCode, string[] Lines)> DoctorAsync(FakeBot bot, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Discord:BotToken"] = bot.Token,
            ["Discord:GuildId"] = _fake.GuildId,
            ["Discord:CategoryId"] = _fake.CategoryId,
            ["Discord:ApplicationId"] = bot.ApplicationId,
            ["Discord:ApiBaseUrl"] = _fake.ApiBaseUrl,
            ["Discord:ClientBotUserId"] = _client.UserId,
            ["Discord:ServerBotUserId"] = _server.UserId,
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = _key,
            ["Data:Root"] = Path.Combine(_directory.FullName, bot.Username),
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Production",
            ContentRootPath = _directory.FullName,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        if (bot == _server)
        {
            builder.AddDiscordServerBot();
        }
        else
        {
            builder.AddDiscordClientBot();
        }

        using var host = builder.Build();
        var output = new StringWriter();
        var exitCode = await DoctorCommandLine.RunAsync(host.Services, output);
        return (exitCode, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
