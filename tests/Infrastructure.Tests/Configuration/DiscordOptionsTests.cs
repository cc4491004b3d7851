using NUnit.Framework;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Discord;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Tests.Configuration;

public sealed class DiscordOptionsTests
{
    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    [Test]
    public void Read_WithoutBotToken_NamesDiscordBotToken()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            DiscordOptions.Read(Settings(("Discord:GuildId", "1")), needsApplication: false));

        Assert.That(error!.Message, Does.StartWith("Discord:BotToken is required"));
    }

    [Test]
    public void Read_WithNonNumericGuildId_NamesDiscordGuildId()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            DiscordOptions.Read(Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "my-guild")), needsApplication: false));

        Assert.That(error!.Message, Does.StartWith("Discord:GuildId must be a Discord id"));
    }

    [TestCase("00:00:00.500", "Discord:MetricsInterval must be between")]
    [TestCase("2.00:00:00", "Discord:MetricsInterval must be between")]
    [TestCase("every five minutes", "Discord:MetricsInterval")]
    public void Read_WithABadMetricsInterval_NamesDiscordMetricsInterval(string value, string says)
    {
        var error = Assert.Throws<ConfigurationException>(() => DiscordOptions.Read(
            Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "1"), ("Discord:MetricsInterval", value)), needsApplication: false));

        Assert.That(error!.Message, Does.Contain(says));
    }

    [Test]
    public void Read_MetricsIntervalDefaultsToFiveMinutes_AndPublicBaseUrlMustBeAWebAddress()
    {
        var options = DiscordOptions.Read(Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "1")), needsApplication: false);
        var error = Assert.Throws<ConfigurationException>(() => DiscordOptions.Read(
            Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "1"), ("Discord:PublicBaseUrl", "chat.example")), needsApplication: false));

        Assert.That(options.MetricsInterval, Is.EqualTo(TimeSpan.FromMinutes(5)));
        Assert.That(error!.Message, Does.StartWith("Discord:PublicBaseUrl must be an absolute http/https URL"));
    }

    [TestCase("Discord:ClosedChannels", "Keep", "Discord:ClosedChannels")]
    [TestCase("Discord:ArchiveCategoryId", "archive", "Discord:ArchiveCategoryId must be a Discord id")]
    [TestCase("Discord:ArchiveCategoryId", "7", "Discord:ArchiveCategoryId must be another category than Discord:CategoryId")]
    [TestCase("Discord:ClosedChannelSweepInterval", "00:00:00.100", "Discord:ClosedChannelSweepInterval must be between")]
    [TestCase("Discord:TypingInterval", "00:00:10", "Discord:TypingInterval must be between")]
    [TestCase("Discord:TypingInterval", "00:00:00.500", "Discord:TypingInterval must be between")]
    [TestCase("Discord:MaxChannelsPerUser", "0", "Discord:MaxChannelsPerUser must be between 1 and 49")]
    [TestCase("Discord:MaxChannelsPerUser", "50", "Discord:MaxChannelsPerUser must be between 1 and 49")]
    [TestCase("Discord:MaxChannelsPerUser", "many", "Discord:MaxChannelsPerUser")]
    [TestCase("Discord:ControlChannelId", "ml-control", "Discord:ControlChannelId must be a Discord id")]
    [TestCase("Discord:CategoryName", " ", "Discord:CategoryName must be a channel name of 1 to 100 characters")]
    [TestCase("Discord:ArchiveCategoryName", "101 characters: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "Discord:ArchiveCategoryName must be a channel name of 1 to 100 characters")]
    public void Read_WithABadClosedChannelOrTypingSetting_NamesIt(string key, string value, string says)
    {
        var error = Assert.Throws<ConfigurationException>(() => DiscordOptions.Read(
            Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "1"), ("Discord:CategoryId", "7"), (key, value)), needsApplication: false));

        Assert.That(error!.Message, Does.Contain(says));
    }

    [Test]
    public void Read_ClosedChatsAreArchivedInPlace_AndTypingIsResentEvery8Seconds_ByDefault()
    {
        var options = DiscordOptions.Read(Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "1")), needsApplication: false);
        var deleting = DiscordOptions.Read(Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "1"),
            ("Discord:ClosedChannels", "delete"), ("Discord:ArchiveCategoryId", "")), needsApplication: false);

        Assert.That(options.ClosedChannels, Is.EqualTo(ClosedChannelAction.Archive));
        Assert.That(options.ArchiveCategoryId, Is.Null);
        Assert.That(options.TypingInterval, Is.EqualTo(TimeSpan.FromSeconds(8)));
        Assert.That(options.MaxChannelsPerUser, Is.EqualTo(20));
        Assert.That(deleting.ClosedChannels, Is.EqualTo(ClosedChannelAction.Delete));
        Assert.That(deleting.ArchiveCategoryId, Is.Null);
    }

    [Test]
    public void Read_ForTheServerBot_RequiresTheApplicationId()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            DiscordOptions.Read(Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "1")), needsApplication: true));

        Assert.That(error!.Message, Does.StartWith("Discord:ApplicationId is required"));
    }

    [Test]
    public void Read_WithAGatewayUrlThatIsNotWebSocket_NamesDiscordGatewayUrl()
    {
        var error = Assert.Throws<ConfigurationException>(() => DiscordOptions.Read(
            Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "1"), ("Discord:GatewayUrl", "http://127.0.0.1:1")),
            needsApplication: false));

        Assert.That(error!.Message, Does.StartWith("Discord:GatewayUrl must be an absolute ws/wss URL"));
    }

    [Test]
    public void Read_WithValidSettings_KeepsThem()
    {
        var options = DiscordOptions.Read(Settings(("Discord:BotToken", "t"), ("Discord:GuildId", "12"),
            ("Discord:ApplicationId", "34"), ("Discord:ApiBaseUrl", "http://127.0.0.1:9000/api/v10")), needsApplication: true);

        Assert.That(options.GuildId, Is.EqualTo("12"));
        Assert.That(options.ApiBaseUrl, Is.EqualTo("http://127.0.0.1:9000/api/v10"));
    }

    private static (string, string)[] ServerBot(params (string Key, string Value)[] more) =>
        [("Discord:BotToken", "t"), ("Discord:GuildId", "1"), ("Discord:ApplicationId", "2"), ("Discord:CategoryId", "3"), .. more];

    [Test]
    public void ClientBotUserIds_AsAList_MergeWithTheShortForm_DuplicatesOnce()
    {
        var options = DiscordOptions.Read(Settings(ServerBot(("Discord:ClientBotUserId", "10"),
            ("Discord:ClientBotUserIds:0", "11"), ("Discord:ClientBotUserIds:1", "10"), ("Discord:ClientBotUserIds:2", "12"))), needsApplication: true)
            .RequireRelaySettings(serverBot: true);

        Assert.That(options.ClientBotUserIds, Is.EqualTo(new[] { "10", "11", "12" }));
    }

    [Test]
    public void ClientBotUserIds_AsOneCommaSeparatedValue_AnEnvironmentVariable_AreRead()
    {
        var options = DiscordOptions.Read(Settings(ServerBot(("Discord:ClientBotUserIds", "21, 22,23"))), needsApplication: true)
            .RequireRelaySettings(serverBot: true);

        Assert.That(options.ClientBotUserIds, Is.EqualTo(new[] { "21", "22", "23" }));
    }

    [Test]
    public void ClientBotUserId_Alone_IsTheOneHostShortForm()
    {
        var options = DiscordOptions.Read(Settings(ServerBot(("Discord:ClientBotUserId", "31"))), needsApplication: true)
            .RequireRelaySettings(serverBot: true);

        Assert.That(options.ClientBotUserIds, Is.EqualTo(new[] { "31" }));
    }

    [TestCase("Discord:ClientBotUserIds:1", "mac-2", "Discord:ClientBotUserIds:1 must be a Discord id (digits only); got 'mac-2'.")]
    [TestCase("Discord:ClientBotUserIds", "41,-42", "Discord:ClientBotUserIds:1 must be a Discord id (digits only); got '-42'.")]
    [TestCase("Discord:ClientBotUserIds", "41,,43", "Discord:ClientBotUserIds:1 is required")]
    [TestCase("Discord:ClientBotUserId", "first", "Discord:ClientBotUserId must be a Discord id (digits only); got 'first'.")]
    public void ABadClientBotUserId_IsOneLineNamingTheSettingAndItsPlace(string key, string value, string says)
    {
        var settings = key == "Discord:ClientBotUserIds:1"
            ? ServerBot(("Discord:ClientBotUserIds:0", "41"), (key, value))
            : ServerBot((key, value));

        var error = Assert.Throws<ConfigurationException>(() => DiscordOptions.Read(Settings(settings), needsApplication: true));

        Assert.That(error!.Message, Does.StartWith(says));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void ChatChannelIds_AsAListOrOneValue_AreRead_AndNoneMeansNoChat()
    {
        var listed = DiscordOptions.Read(Settings(ServerBot(("Discord:ChatChannelIds:0", "51"), ("Discord:ChatChannelIds:1", "52"))),
            needsApplication: true);
        var commaSeparated = DiscordOptions.Read(Settings(ServerBot(("Discord:ChatChannelIds", "61, 62"))), needsApplication: true);
        var none = DiscordOptions.Read(Settings(ServerBot()), needsApplication: true);

        Assert.That(listed.ChatChannelIds, Is.EqualTo(new[] { "51", "52" }));
        Assert.That(commaSeparated.ChatChannelIds, Is.EqualTo(new[] { "61", "62" }));
        Assert.That(none.ChatChannelIds, Is.Empty);
    }

    [Test]
    public void ABadChatChannelId_IsOneLineNamingTheSettingAndItsPlace()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            DiscordOptions.Read(Settings(ServerBot(("Discord:ChatChannelIds", "51,#general"))), needsApplication: true));

        Assert.That(error!.Message, Does.StartWith("Discord:ChatChannelIds:1 must be a Discord id (digits only); got '#general'."));
    }

    [Test]
    public void TheServerBot_WithNoClientBot_NamesClientBotUserIds_WhileAClientBotNeedsNone()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            DiscordOptions.Read(Settings(ServerBot()), needsApplication: true).RequireRelaySettings(serverBot: true));
        var client = DiscordOptions.Read(Settings(ServerBot(("Discord:ServerBotUserId", "5"))), needsApplication: false)
            .RequireRelaySettings(serverBot: false);

        Assert.That(error!.Message, Does.StartWith("Discord:ClientBotUserIds is required"));
        Assert.That(client.ClientBotUserIds, Is.Empty);
    }

    [Test]
    public async Task HostRunner_ReportsAConfigurationFailureAsOneLine_WithExitCode2()
    {
        var error = new StringWriter();

        var exitCode = await HostRunner.RunAsync(
            () => throw new OptionsValidationException("Relay", typeof(object), ["Relay:AckTimeout must be positive."]), error);

        Assert.That(exitCode, Is.EqualTo(HostRunner.ConfigurationErrorExitCode));
        Assert.That(error.ToString(), Is.EqualTo("Configuration error: Relay:AckTimeout must be positive." + Environment.NewLine));
    }

    [Test]
    public void HostRunner_LetsOtherFailuresThrough()
    {
        Assert.ThrowsAsync<InvalidOperationException>(() =>
            HostRunner.RunAsync(() => throw new InvalidOperationException("not about configuration"), TextWriter.Null));
    }

    [Test]
    public void InfrastructureSettings_UnknownTransport_NamesTheKeyAndTheChoices()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            InfrastructureSettings.Read(Settings(("Relay:Transport", "Pigeon"))));

        Assert.That(error!.Message, Is.EqualTo("Relay:Transport 'Pigeon' is not a known value; use InProcess or Discord or Direct."));
    }
}
