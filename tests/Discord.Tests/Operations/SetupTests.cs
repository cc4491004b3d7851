using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Discord.Tests.Relay;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Infrastructure.Discord.Setup;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Presentation.DiscordServer;
using MeatLizard.Presentation.DiscordServer.Commands;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Operations;

/// <summary>
/// The server bot's <c>setup</c> verb, composed as the host composes it, against the loopback Discord (which refuses
/// what a bot lacks the permissions for, as Discord does): a fresh guild gets its categories and control channel, the
/// commands and a settings file; a second run makes nothing; each failed check is one line that says what to do, exits
/// 1 and changes nothing; the token is never printed nor written. <c>--admin</c>'s own checks are in
/// SetupTests.Admin.cs.
/// </summary>
[TestFixture]
public sealed partial class SetupTests
{
    private const string ChannelsRoute = "/guilds/{guild_id}/channels";
    private const string CommandsRoute = "/applications/{application_id}/guilds/{guild_id}/commands";

    private FakeDiscordServer _fake = null!;
    private FakeBot _server = null!;
    private FakeBot _client = null!;
    private DirectoryInfo _directory = null!;

    private string DefaultFile => Path.Combine(_directory.FullName, "appsettings.Production.json");

    [SetUp]
    public async Task SetUp()
    {
        _fake = await FakeDiscordServer.StartAsync();
        _server = _fake.AddBot("meatlizard-server");
        _client = _fake.AddBot("meatlizard-client");
        // A guild nobody set up yet: the fake starts with a "meatlizard" category, which an operator would not have.
        _fake.DeleteChannelByHand(_fake.CategoryId);
        _directory = Directory.CreateTempSubdirectory("ml-setup-");
    }

    [TearDown]
    public async Task TearDown()
    {
        await _fake.DisposeAsync();
        _directory.Delete(recursive: true);
    }

    [Test]
    public async Task FreshGuild_MakesCategoriesAndControlChannel_RegistersCommands_WritesTheIds()
    {
        // Exactly what the invite asks for is enough for everything setup does (the fake refuses what is missing).
        _server.RolePermissions = DiscordInvites.ServerBot;

        var (exitCode, lines) = await SetupAsync();

        var file = ReadFile(DefaultFile);
        var discord = file["Discord"]!.AsObject();
        var category = _fake.Channel(discord["CategoryId"]!.GetValue<string>())!;
        var archive = _fake.Channel(discord["ArchiveCategoryId"]!.GetValue<string>())!;
        var control = _fake.Channel(discord["ControlChannelId"]!.GetValue<string>())!;
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, string.Join("\n", lines));
            Assert.That(lines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)), Is.Empty);
            Assert.That((category.Name, category.Type, category.ParentId), Is.EqualTo(("meatlizard", 4, (string?)null)));
            Assert.That((archive.Name, archive.Type, archive.ParentId), Is.EqualTo(("meatlizard-archive", 4, (string?)null)));
            Assert.That((control.Name, control.Type, control.ParentId), Is.EqualTo(("ml-control", 0, category.Id)));
            foreach (var hidden in new[] { category, archive, control })
            {
                Assert.That(Overwrite(hidden, _fake.GuildId), Is.EqualTo((0, 0UL, 1024UL)), $"{hidden.Name} is hidden from @everyone");
                Assert.That(Overwrite(hidden, _server.UserId).Allow & 1024, Is.EqualTo(1024), $"{hidden.Name} is visible to the server bot");
            }

            Assert.That(Overwrite(category, _server.UserId), Is.EqualTo((1, 101376UL | 16, 0UL)));
            Assert.That(Overwrite(control, _server.UserId), Is.EqualTo((1, 101376UL, 0UL)));
            Assert.That(Overwrite(control, _client.UserId), Is.EqualTo((1, 101376UL, 0UL)), "the client bot may heartbeat there");
            Assert.That(_fake.RegisteredCommands, Is.EqualTo(DiscordAdminCommands.Definitions.Select(c => c.Name)));

            Assert.That(discord["GuildId"]!.GetValue<string>(), Is.EqualTo(_fake.GuildId));
            Assert.That(discord["ApplicationId"]!.GetValue<string>(), Is.EqualTo(_server.ApplicationId));
            Assert.That(discord["ServerBotUserId"]!.GetValue<string>(), Is.EqualTo(_server.UserId));
            Assert.That(File.ReadAllText(DefaultFile), Does.Not.Contain(_server.Token).And.Not.Contain("BotToken"));
            if (!OperatingSystem.IsWindows())
            {
                Assert.That(File.GetUnixFileMode(DefaultFile), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            }
            Assert.That(lines, Has.Some.StartWith("ok   settings file: wrote ").And.Contain(DefaultFile));
            Assert.That(string.Join("\n", lines), Does.Not.Contain(_server.Token));
            Assert.That(lines, Does.Contain(
                $"invite the server bot: https://discord.com/oauth2/authorize?client_id={_server.ApplicationId}&scope=bot%20applications.commands&permissions=268536848"));
            Assert.That(lines, Has.Some.StartWith(
                "invite each client bot: https://discord.com/oauth2/authorize?client_id=APPLICATION_ID&scope=bot&permissions=0 (put its Application ID there"));
            Assert.That(_fake.SchemaViolations, Is.Empty);
        });
    }

    [Test]
    public async Task SecondRun_MakesNothing_AndWritesTheSameIds()
    {
        var (firstExit, _) = await SetupAsync();
        var first = File.ReadAllText(DefaultFile);
        var channelsMade = ChannelPosts();

        var (secondExit, lines) = await SetupAsync();

        Assert.Multiple(() =>
        {
            Assert.That((firstExit, secondExit), Is.EqualTo((0, 0)), string.Join("\n", lines));
            Assert.That(channelsMade, Is.EqualTo(3), "two categories and the control channel");
            Assert.That(ChannelPosts(), Is.EqualTo(3), "the second run made nothing");
            Assert.That(lines, Has.Some.StartWith("ok   discord category: found meatlizard ("));
            Assert.That(lines, Has.Some.StartWith("ok   discord archive category: found meatlizard-archive ("));
            Assert.That(lines, Has.Some.StartWith("ok   discord control channel: found ml-control ("));
            Assert.That(File.ReadAllText(DefaultFile), Is.EqualTo(first));
        });
    }

    [Test]
    public async Task ConfiguredCategory_IsUsed_NotOneWithTheDefaultName()
    {
        var byHand = _fake.CreateCategory("relay-by-hand");

        var (exitCode, lines) = await SetupAsync(new() { ["Discord:CategoryId"] = byHand.Id });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, string.Join("\n", lines));
            Assert.That(lines, Does.Contain($"ok   discord category: found relay-by-hand ({byHand.Id})"));
            Assert.That(ReadFile(DefaultFile)["Discord"]!["CategoryId"]!.GetValue<string>(), Is.EqualTo(byHand.Id));
            Assert.That(_fake.Channels.Single(c => c.Name == "ml-control").ParentId, Is.EqualTo(byHand.Id));
            Assert.That(ChannelPosts(), Is.EqualTo(2), "the archive category and the control channel");
        });
    }

    [Test]
    public async Task ConfiguredCategoryThatIsNotOne_FailsNamingTheSetting()
    {
        var text = _fake.CreateChannel("general");

        var (exitCode, lines) = await SetupAsync(new() { ["Discord:CategoryId"] = text.Id });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines, Has.Some.StartWith($"FAIL discord category: Discord:CategoryId {text.Id} (general) is not a category — fix Discord:CategoryId"));
            AssertNothingChanged();
        });
    }

    [Test]
    public async Task ExistingSettings_AreKept_AndTheSectionIsMergedWhateverItsCase()
    {
        var path = Path.Combine(_directory.FullName, "server-bot.json");
        File.WriteAllText(path, """
            {
              // the operator's own settings
              "Logging": { "LogLevel": { "Default": "Warning" } },
              "discord": { "MetricsChannelId": "123456789012345678", "GuildId": "1" },
              "Storage": { "Provider": "Postgres" },
            }
            """);

        var (exitCode, lines) = await SetupAsync(configOut: path);

        var file = ReadFile(path);
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, string.Join("\n", lines));
            Assert.That(file["Logging"]!["LogLevel"]!["Default"]!.GetValue<string>(), Is.EqualTo("Warning"));
            Assert.That(file["Storage"]!["Provider"]!.GetValue<string>(), Is.EqualTo("Postgres"));
            Assert.That(file.Select(p => p.Key), Is.EquivalentTo(new[] { "Logging", "discord", "Storage" }), "no second Discord section");
            Assert.That(file["discord"]!["MetricsChannelId"]!.GetValue<string>(), Is.EqualTo("123456789012345678"));
            Assert.That(file["discord"]!["GuildId"]!.GetValue<string>(), Is.EqualTo(_fake.GuildId));
            Assert.That(File.Exists(DefaultFile), Is.False, "only the named file is written");
        });
    }

    [Test]
    public async Task TheWrittenFile_IsWhatTheServerBotStartsWith()
    {
        var (setupExit, _) = await SetupAsync();

        // The server bot as it starts next: the file the verb wrote, plus the settings setup does not write.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Production",
            ContentRootPath = _directory.FullName,
            DisableDefaults = true,
        });
        builder.Configuration.AddJsonFile(DefaultFile, optional: false);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Discord:BotToken"] = _server.Token,
            ["Discord:ApiBaseUrl"] = _fake.ApiBaseUrl,
            ["Discord:ClientBotUserId"] = _client.UserId,
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Data:Root"] = Path.Combine(_directory.FullName, "data"),
        });
        builder.Logging.ClearProviders();
        builder.AddDiscordServerBot();
        using var host = builder.Build();
        var output = new StringWriter();
        var doctorExit = await DoctorCommandLine.RunAsync(host.Services, output);

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Multiple(() =>
        {
            Assert.That((setupExit, doctorExit), Is.EqualTo((0, 0)), string.Join("\n", lines));
            Assert.That(lines, Has.Some.StartWith("ok   discord category: meatlizard ("));
            Assert.That(lines, Has.Some.StartWith("ok   discord archive category: meatlizard-archive ("));
            Assert.That(lines, Has.Some.StartWith("ok   discord control channel: ml-control ("));
        });
    }

    [Test]
    public async Task MissingPermission_OneLineSayingWhichAndHow_ExitOne_NothingChanged()
    {
        _server.RolePermissions = DiscordInvites.ServerBot & ~FakeDiscordServer.ManageRoles;

        var (exitCode, lines) = await SetupAsync();

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).ToList(), Is.EqualTo(new[]
            {
                $"FAIL discord permissions: the server bot lacks Manage Roles in {_fake.GuildName} — give its role those permissions "
                + $"(Server Settings → Roles) or invite it again with https://discord.com/oauth2/authorize?client_id={_server.ApplicationId}"
                + "&scope=bot%20applications.commands&permissions=268536848",
            }));
            AssertNothingChanged();
        });
    }

    /// <summary>Each permission the server bot needs, by its documented bit; without any one of them setup names it.</summary>
    [TestCase(1UL << 4, "Manage Channels")]
    [TestCase(1UL << 10, "View Channels")]
    [TestCase(1UL << 11, "Send Messages")]
    [TestCase(1UL << 15, "Attach Files")]
    [TestCase(1UL << 16, "Read Message History")]
    [TestCase(1UL << 28, "Manage Roles")]
    public async Task EachNeededPermission_WhenMissing_IsNamed(ulong bit, string name)
    {
        // @everyone's own permissions (view, send, attach, history) would cover those four: this guild took them away.
        _server.RolePermissions = DiscordInvites.ServerBot & ~bit;
        _fake.EveryoneRolePermissions = 0;

        var (exitCode, lines) = await SetupAsync();

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines, Has.Some.StartWith($"FAIL discord permissions: the server bot lacks {name} in "));
    }

    [Test]
    public async Task Administrator_CoversEverything()
    {
        _server.RolePermissions = FakeDiscordServer.Administrator;

        var (exitCode, lines) = await SetupAsync();

        Assert.That(exitCode, Is.Zero, string.Join("\n", lines));
        Assert.That(lines, Does.Contain("ok   discord permissions: Administrator (covers all it needs)"));
    }

    [Test]
    public async Task BadToken_OneLine_ExitOne_TokenNeverShown()
    {
        var (exitCode, lines) = await SetupAsync(new() { ["Discord:BotToken"] = "not-a-token-" + Guid.NewGuid() });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines[0], Is.EqualTo(
                "FAIL discord: Discord refused Discord:BotToken (401) — copy the server bot's token again from the Developer Portal (Bot → Reset Token)"));
            Assert.That(lines.Count(l => l.StartsWith("FAIL", StringComparison.Ordinal)), Is.EqualTo(1));
            Assert.That(string.Join("\n", lines), Does.Not.Contain("not-a-token"));
            AssertNothingChanged();
        });
    }

    [Test]
    public async Task MessageContentIntentOff_FailsSayingWhereToTurnItOn()
    {
        _server.MessageContentAllowed = false;

        var (exitCode, lines) = await SetupAsync();

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines, Has.Some.StartWith($"FAIL discord intents: the Message Content intent is off for application {_server.ApplicationId}")
                .And.Contain("Privileged Gateway Intents"));
            AssertNothingChanged();
        });
    }

    [Test]
    public async Task BotNotInTheGuild_FailsWithTheInviteUrl()
    {
        _server.InGuild = false;

        var (exitCode, lines) = await SetupAsync();

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines, Has.Some.StartWith($"FAIL discord guild: {_fake.GuildId} is not a guild this bot is in — invite it with "
                                                  + $"https://discord.com/oauth2/authorize?client_id={_server.ApplicationId}&"));
            AssertNothingChanged();
        });
    }

    [Test]
    public async Task ApplicationIdOfAnotherApplication_Fails()
    {
        var (exitCode, lines) = await SetupAsync(new() { ["Discord:ApplicationId"] = _client.ApplicationId });

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines, Has.Some.StartWith(
            $"FAIL discord application: Discord:ApplicationId is {_client.ApplicationId} but the token is application {_server.ApplicationId}'s"));
    }

    [Test]
    public void InvitePermissions_AreTheDocumentedBits()
    {
        // Discord's Bitwise Permission Flags: MANAGE_CHANNELS 1<<4, VIEW_CHANNEL 1<<10, SEND_MESSAGES 1<<11,
        // ATTACH_FILES 1<<15, READ_MESSAGE_HISTORY 1<<16, MANAGE_ROLES 1<<28.
        Assert.Multiple(() =>
        {
            Assert.That(DiscordInvites.ServerBot, Is.EqualTo(16UL + 1024 + 2048 + 32768 + 65536 + 268435456));
            Assert.That(DiscordInvites.ServerBot, Is.EqualTo(268536848UL));
            Assert.That(DiscordInvites.ClientBot, Is.Zero, "relay channels let client bots in by member overwrites");
            Assert.That(DiscordInvites.Names(DiscordInvites.ServerBot),
                Is.EqualTo("Manage Channels, View Channels, Send Messages, Attach Files, Read Message History, Manage Roles"));
            Assert.That(DiscordInvites.ServerBotUrl("111"),
                Is.EqualTo("https://discord.com/oauth2/authorize?client_id=111&scope=bot%20applications.commands&permissions=268536848"));
            Assert.That(DiscordInvites.ClientBotUrl("222"), Is.EqualTo("https://discord.com/oauth2/authorize?client_id=222&scope=bot&permissions=0"));
        });
    }

    [Test]
    public void GuildPermissions_AreEveryonesAndTheMembersRolesTogether_OwnerAndAdministratorHaveAll()
    {
        var guild = new DiscordGuild("100", "g", OwnerId: "900");
        IReadOnlyList<DiscordRole> roles =
        [
            new("100", "@everyone", "1024"),
            new("201", "bots", "2048"),
            new("202", "movers", "16"),
            new("203", "admins", "8"),
        ];

        Assert.Multiple(() =>
        {
            Assert.That(DiscordSetup.GuildPermissions(guild, "1", new DiscordGuildMember(["201", "202"]), roles), Is.EqualTo(1024UL | 2048 | 16));
            Assert.That(DiscordSetup.GuildPermissions(guild, "1", new DiscordGuildMember([]), roles), Is.EqualTo(1024UL), "@everyone only");
            Assert.That(DiscordSetup.GuildPermissions(guild, "1", new DiscordGuildMember(["203"]), roles), Is.EqualTo(ulong.MaxValue));
            Assert.That(DiscordSetup.GuildPermissions(guild, "900", new DiscordGuildMember([]), roles), Is.EqualTo(ulong.MaxValue), "the owner");
        });
    }

    [Test]
    public void CommandLine_TakesConfigOutAndAdmin_AndLeavesTheSettings()
    {
        var parsed = SetupCommandLine.Parse(["setup", "--config-out", "a.json", "--Discord:GuildId=1", "--admin", "alice"]);
        Assert.Multiple(() =>
        {
            Assert.That((parsed.ConfigOut, parsed.Admin), Is.EqualTo(("a.json", "alice")));
            Assert.That(parsed.Settings, Is.EqualTo(new[] { "--Discord:GuildId=1" }));
            Assert.That(SetupCommandLine.Parse(["setup", "--config-out=b.json"]).ConfigOut, Is.EqualTo("b.json"));
            Assert.That(SetupCommandLine.Parse(["setup", "--admin=bob"]).Admin, Is.EqualTo("bob"));
            Assert.That(SetupCommandLine.Parse(["setup"]), Is.EqualTo(new SetupArguments(null, null, [])).Using<SetupArguments>((x, y) =>
                x.ConfigOut == y.ConfigOut && x.Admin == y.Admin && x.Settings.SequenceEqual(y.Settings)));
            Assert.That(() => SetupCommandLine.Parse(["setup", "--config-out"]),
                Throws.TypeOf<MeatLizard.Infrastructure.ConfigurationException>().With.Message.Contains("--config-out needs a file name"));
            Assert.That(() => SetupCommandLine.Parse(["setup", "--admin", "--config-out", "a.json"]),
                Throws.TypeOf<MeatLizard.Infrastructure.ConfigurationException>().With.Message.Contains("--admin needs a web account's username"));
            Assert.That(() => SetupCommandLine.Parse(["setup", "--admin="]),
                Throws.TypeOf<MeatLizard.Infrastructure.ConfigurationException>().With.Message.Contains("--admin needs a web account's username"));
        });
    }

    [Test]
    public async Task AsAProcess_FreshGuild_WritesTheDefaultFile_ThenABadTokenExitsOne()
    {
        var environment = new Dictionary<string, string>
        {
            ["Discord__BotToken"] = _server.Token,
            ["Discord__GuildId"] = _fake.GuildId,
            ["Discord__ApiBaseUrl"] = _fake.ApiBaseUrl,
            ["Discord__ClientBotUserId"] = _client.UserId,
        };

        var good = await BotProcessTests.RunInAsync(_directory.FullName, "DiscordServer", environment, "setup");
        var bad = await BotProcessTests.RunInAsync(_directory.FullName, "DiscordServer", environment, "setup", "--Discord:BotToken=bad-token-value");

        Assert.Multiple(() =>
        {
            Assert.That(good.ExitCode, Is.Zero, good.Stdout + good.Stderr);
            Assert.That(good.Stdout, Does.Contain($"to {DefaultFile} (mode 0600"));
            Assert.That(ReadFile(DefaultFile)["Discord"]!["GuildId"]!.GetValue<string>(), Is.EqualTo(_fake.GuildId));
            Assert.That(bad.ExitCode, Is.EqualTo(1), bad.Stdout + bad.Stderr);
            Assert.That(bad.Stdout, Does.StartWith("FAIL discord: Discord refused Discord:BotToken (401)"));
            Assert.That(good.Stdout + good.Stderr + bad.Stdout + bad.Stderr, Does.Not.Contain(_server.Token).And.Not.Contain("bad-token-value"));
        });
    }

    [Test]
    public async Task AsAProcess_ASettingsFileThatIsNotJson_StopsWithOneLine_ExitTwo()
    {
        var path = Path.Combine(_directory.FullName, "broken.json");
        File.WriteAllText(path, "{ \"Discord\": ");

        var (exitCode, stdout, stderr) = await BotProcessTests.RunInAsync(_directory.FullName, "DiscordServer", new Dictionary<string, string>
        {
            ["Discord__BotToken"] = _server.Token,
            ["Discord__GuildId"] = _fake.GuildId,
            ["Discord__ApiBaseUrl"] = _fake.ApiBaseUrl,
        }, "setup", "--config-out", path);

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(2), stdout + stderr);
            Assert.That(stderr.Trim(), Does.StartWith($"Configuration error: {path} is not valid JSON"));
            Assert.That(_fake.Requests, Is.Empty, "nothing is asked of Discord");
        });
    }

    private async Task<(int ExitCode, string[] Lines)> SetupAsync(Dictionary<string, string?>? extra = null, string? configOut = null,
        string? admin = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Discord:BotToken"] = _server.Token,
            ["Discord:GuildId"] = _fake.GuildId,
            ["Discord:ApiBaseUrl"] = _fake.ApiBaseUrl,
            ["Discord:ClientBotUserId"] = _client.UserId,
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
        builder.AddDiscordServerSetup(admin);
        using var host = builder.Build();
        var output = new StringWriter();
        var exitCode = await host.RunDiscordServerSetupAsync(configOut, output);
        return (exitCode, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private void AssertNothingChanged()
    {
        Assert.That(ChannelPosts(), Is.Zero, "no channel made");
        Assert.That(_fake.Requests.Where(r => r.Template == CommandsRoute), Is.Empty, "no command registered");
        Assert.That(File.Exists(DefaultFile), Is.False, "no file written");
    }

    private int ChannelPosts() => _fake.Requests.Count(r => r.Method == "POST" && r.Template == ChannelsRoute && r.Status == 200);

    private static JsonObject ReadFile(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    private static (int Type, ulong Allow, ulong Deny) Overwrite(FakeChannel channel, string id)
    {
        var overwrite = channel.Overwrites.OfType<JsonObject>().Single(o => o["id"]!.GetValue<string>() == id);
        return (overwrite["type"]!.GetValue<int>(),
            ulong.Parse(overwrite["allow"]!.GetValue<string>(), CultureInfo.InvariantCulture),
            ulong.Parse(overwrite["deny"]!.GetValue<string>(), CultureInfo.InvariantCulture));
    }
}
