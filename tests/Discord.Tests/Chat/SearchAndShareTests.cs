using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Sharing.Queries;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Discord.Tests.Relay;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using MeatLizard.Telegram.Tests.Fake;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using DiscordMessage = MeatLizard.Discord.Tests.Fake.FakeMessage;

namespace MeatLizard.Discord.Tests.Chat;

/// <summary>
/// <c>/search</c> and <c>/share</c> on both chat networks, through the server bot as its host composes it (Discord in
/// the guild, Telegram polled beside it), on either database: the member's own chats are found and where they open is
/// said, only to them; their current chat in a place is shared and its links revoked through the web app's commands.
/// </summary>
[TestFixture("Sqlite")]
[TestFixture("Postgres")]
[NonParallelizable]
public sealed partial class SearchAndShareTests(string storage)
{
    private const string Web = "https://chat.example.com";
    private const string TelegramWeb = "https://tg.example.com";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private TwoBots Bots = null!;
    private PostgresTestDatabase? _postgres;
    private FakeTelegramServer _telegram = null!;
    private FakeChannel _chat = null!;
    private string _alice = null!;

    private FakeDiscordServer Fake => Bots.Fake;

    private string Mention => $"<@{Bots.ServerBot.UserId}>";

    [SetUp]
    public async Task SetUpAsync()
    {
        Bots = await TwoBots.CreateAsync();
        _telegram = await FakeTelegramServer.StartAsync();
        if (storage == "Postgres")
        {
            _postgres = await PostgresTestDatabase.CreateAsync();
            Bots.Extra["Storage:Provider"] = "Postgres";
            Bots.Extra["ConnectionStrings:Postgres"] = _postgres.ConnectionString;
        }
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        try
        {
            Assert.That(Bots.Fake.SchemaViolations, Is.Empty, "every request body must conform to Discord's OpenAPI spec");
        }
        finally
        {
            await Bots.DisposeAsync();
            await _telegram.DisposeAsync();
            if (_postgres is not null)
            {
                await _postgres.DisposeAsync();
            }
        }
    }

    private async Task StartAsync(params long[] telegramChats)
    {
        _chat = Fake.CreateChannel("chat-with-the-model");
        _alice = Fake.AddMember("alice");
        Bots.Extra["Discord:ChatChannelIds"] = _chat.Id;
        Bots.Extra["Discord:PublicBaseUrl"] = Web;
        if (telegramChats.Length > 0)
        {
            Bots.PerBot[Bots.ServerBot] = new()
            {
                ["Telegram:BotToken"] = _telegram.Token,
                ["Telegram:ApiBaseUrl"] = _telegram.BaseUrl,
                ["Telegram:AllowedChatIds"] = string.Join(',', telegramChats),
                ["Telegram:PollTimeoutSeconds"] = "1",
                ["Telegram:PublicBaseUrl"] = TelegramWeb,
            };
        }

        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
    }

    [Test]
    public async Task Search_OnDiscord_FindsTheMembersOwnChats_OnlyForThem_WithWhereEachOpens()
    {
        await StartAsync();
        var bob = Fake.AddMember("bob");
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} what do geckos eat"));
        await AnswerToAsync(Fake.PostAsMember(bob, _chat.Id, $"{Mention} bob likes geckos too"));
        var chat = await CurrentChatAsync("discord", _chat.Id, _alice);

        var (found, content) = await CommandAsync(_alice, "search", Text("words", "geckos"));
        var (_, nothing) = await CommandAsync(_alice, "search", Text("words", "platypus"));

        Assert.That(found["data"]!["flags"]!.GetValue<int>() & 64, Is.EqualTo(64), "only the member sees their chats");
        Assert.That(content, Does.Contain("“what do geckos eat”"));
        Assert.That(content, Does.Contain($"{Web}/c/{chat:D}"), "where the chat opens in the web app");
        Assert.That(content, Does.Not.Contain("bob likes"), "another member's chat is not theirs to find");
        Assert.That(content, Does.Contain("/link"), "a member not linked yet is told how to open them");
        Assert.That(nothing, Is.EqualTo("Nothing in your chats matches 'platypus'."));
    }

    [Test]
    public async Task Search_OnDiscord_ShowsWhatTheMemberWrote_AsWritten_AndPingsNobody()
    {
        await StartAsync();
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} *bold* _x_ ||spoiler|| @everyone geckos"));

        var (found, content) = await CommandAsync(_alice, "search", Text("words", "geckos"));

        // Escaped for Discord's markdown, the @ defused by a zero-width space: shown as written, pinging nobody.
        const string Literal = @"\*bold\* \_x\_ \|\|spoiler\|\| @" + "\u200beveryone geckos";
        Assert.That(content, Does.Contain($"“{Literal}”"), "the chat's title");
        Assert.That(content, Does.Contain($": {Literal}\n"), "the snippet of the question");
        Assert.That(content, Does.Not.Contain("@everyone"));
        Assert.That(found["data"]!["allowed_mentions"]?["parse"]?.AsArray(), Is.Empty, "no mention in the answer pings");
    }

    [Test]
    public async Task Share_OnDiscord_LinksTheCurrentChat_ThatOpensSignedOut_UntilRevoked_AndNeedsAChat()
    {
        await StartAsync();
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} tell me about iguanas"));

        var (shared, content) = await CommandAsync(_alice, "share");
        var token = TokenIn(content, Web);
        var copy = await Bots.SendAsync(new GetSharedChat(token));
        var (_, revoked) = await CommandAsync(_alice, "share", Flag("revoke"));
        var (_, none) = await CommandAsync(Fake.AddMember("bob"), "share");
        await CommandAsync(_alice, "reset");
        var (_, afterReset) = await CommandAsync(_alice, "share");

        Assert.That(shared["data"]!["flags"]!.GetValue<int>() & 64, Is.EqualTo(64), "only the member sees the link");
        Assert.That(copy.Messages.Select(m => m.Content), Is.EqualTo(new[] { "tell me about iguanas", "You said: tell me about iguanas" }));
        Assert.That(revoked, Does.StartWith("Revoked 1 share link(s)"));
        Assert.ThrowsAsync<NotFoundException>(() => Bots.SendAsync(new GetSharedChat(token)), "a revoked link no longer opens");
        Assert.That(none, Is.EqualTo(ChannelShares.NoChat), "a member with no chat here has nothing to share");
        Assert.That(afterReset, Is.EqualTo(ChannelShares.NoChat), "after /reset there is no current chat");
    }

    [Test]
    public async Task Help_OnDiscord_NamesSearchAndShare_AndTheyAreRegistered()
    {
        await StartAsync();

        var (_, help) = await CommandAsync(_alice, "help");

        Assert.That(help, Does.Contain("/search words").And.Contain("/share").And.Contain("👍 or 👎"));
        Assert.That(Fake.RegisteredCommands, Does.Contain("search").And.Contain("share"));
    }

    private async Task<Guid> CurrentChatAsync(string network, string place, string member)
    {
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        var chat = await scope.ServiceProvider.GetRequiredService<IChannelConversationStore>()
            .FindCurrentAsync(network, place, member, CancellationToken.None);
        Assert.That(chat, Is.Not.Null, "the member has a current chat there");
        return chat!.Value.Value;
    }

    /// <summary>The share token in an answer, checked to be a link under <paramref name="webBaseUrl"/>.</summary>
    private static string TokenIn(string answer, string webBaseUrl)
    {
        var match = Regex.Match(answer, Regex.Escape(webBaseUrl) + "/s/([A-Za-z0-9_-]{43})");
        Assert.That(match.Success, Is.True, "a full share link in: " + answer);
        return match.Groups[1].Value;
    }

    private async Task<(JsonObject First, string Content)> CommandAsync(string member, string name, JsonArray? options = null) =>
        await Fake.AnswerOfAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, member, admin: false, name, options));

    private static JsonArray Text(string name, string value) =>
        [new JsonObject { ["name"] = name, ["type"] = 3, ["value"] = value }];

    private static JsonArray Flag(string name) =>
        [new JsonObject { ["name"] = name, ["type"] = 5, ["value"] = true }];

    /// <summary>The server bot's finished reply to <paramref name="question"/> in the chat channel.</summary>
    private async Task<DiscordMessage> AnswerToAsync(DiscordMessage question)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            if (Fake.RepliesTo(_chat.Id, question.Id).FirstOrDefault(m => m.AuthorId == Bots.ServerBot.UserId) is { } reply
                && !reply.Content.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal))
            {
                await Task.Delay(300); // the question is marked answered just after the final edit
                return reply;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("The server bot did not answer in time.");
    }
}
