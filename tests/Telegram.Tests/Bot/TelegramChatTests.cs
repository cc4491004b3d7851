using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using MeatLizard.Telegram.Tests.Fake;
using MeatLizard.Telegram.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Telegram.Tests.Bot;

/// <summary>
/// The Telegram side of the channel port, end to end over the fake Bot API: which messages reach the channel handler
/// (private chats, group mentions and replies to the bot, allowed chats only), what they carry, and how an answer
/// written through <see cref="ChannelAnswerWriter"/> lands in Telegram (a reply, split at 4,096 characters). The
/// channel handler here answers with a fixed text through the adapter, as the real one does once the model answered.
/// </summary>
[TestFixture]
public sealed class TelegramChatTests
{
    private FakeTelegramServer _telegram = null!;
    private ITestDatabase _database = null!;
    private TelegramBotHost? _bot;
    private AnsweringConversations _conversations = null!;
    private Mock<IChannelCommands> _commands = null!;
    private Mock<IChannelPersonas> _personas = null!;
    private FakeUser _alice = null!;
    private FakeChat _alicePrivate = null!;
    private FakeChat _group = null!;

    [SetUp]
    public async Task SetUp()
    {
        _telegram = await FakeTelegramServer.StartAsync();
        _database = await TelegramBotHost.CreateDatabaseAsync(TestDatabaseKind.Sqlite);
        _alice = _telegram.AddUser("Alice", "alice_l");
        _alicePrivate = _telegram.PrivateChat(_alice);
        _group = _telegram.Group("Lizards", super: true, _alice);
        _conversations = new AnsweringConversations();
        _commands = new Mock<IChannelCommands>();
        _personas = new Mock<IChannelPersonas>();
        _personas.Setup(p => p.ChooseAsync(It.IsAny<ChannelMember>(), It.IsAny<ChannelPlace>(), It.IsAny<string?>(),
            It.IsAny<CancellationToken>())).ReturnsAsync((ChannelMember _, ChannelPlace _, string? name, CancellationToken _) =>
            string.IsNullOrEmpty(name) ? "Personas: Pirate." : $"As '{name}'.");
        _commands.Setup(c => c.Help("telegram")).Returns("How to use me.");
        _commands.Setup(c => c.ResetAsync(It.IsAny<ChannelMember>(), It.IsAny<ChannelPlace>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync("Starting over.");
    }

    [TearDown]
    public async Task TearDown()
    {
        if (_bot is not null)
        {
            await _bot.DisposeAsync();
        }

        await _telegram.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Test]
    public async Task APrivateQuestion_IsAnsweredAsAReplyInTheSameChat()
    {
        await StartBotAsync(_alicePrivate.Id, _group.Id);
        var question = _telegram.Say(_alice, _alicePrivate, "What is a lizard?");

        await AllHandledAsync();
        var asked = _conversations.Received.Single();
        Assert.That(asked.Text, Is.EqualTo("What is a lizard?"));
        Assert.That(asked.Author.Username, Is.EqualTo($"telegram:{_alice.Id}"));
        Assert.That(asked.Place, Is.EqualTo(new ChannelPlace(_alicePrivate.Id.ToString(), null, IsPrivate: true)));
        var answer = _telegram.BotMessages(_alicePrivate).Single();
        Assert.That(answer.Text, Is.EqualTo("Answer to: What is a lizard?"));
        Assert.That(answer.ReplyTo?.MessageId, Is.EqualTo(question.MessageId));
    }

    [Test]
    public async Task AGroupMention_IsAnswered_WithTheMentionTakenOut_AndAReplyToTheBotContinues()
    {
        await StartBotAsync(_alicePrivate.Id, _group.Id);
        var question = _telegram.Say(_alice, _group, "@MeatLizard_Test_Bot how old are lizards?");
        await AllHandledAsync();
        var answer = _telegram.BotMessages(_group).Single();
        Assert.That(answer.ReplyTo?.MessageId, Is.EqualTo(question.MessageId));

        _telegram.Say(_alice, _group, "and the oldest?", replyTo: answer);
        await AllHandledAsync();

        Assert.That(_conversations.Received.Select(m => m.Text), Is.EqualTo(new[] { "how old are lizards?", "and the oldest?" }));
        var first = _conversations.Received[0];
        Assert.That(first.Place, Is.EqualTo(new ChannelPlace(_group.Id.ToString(), _group.Id.ToString(), IsPrivate: false)));
        Assert.That(first.ReplyToMessageId, Is.Null);
        Assert.That(_conversations.Received[1].ReplyToMessageId, Is.EqualTo(answer.MessageId.ToString()), "the reply names the bot's answer");
        Assert.That(_telegram.BotMessages(_group), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task AGroupMessage_WithoutMentionOrReplyToTheBot_GetsSilence()
    {
        var bob = _telegram.AddUser("Bob", "bob_the_builder");
        await StartBotAsync(_alicePrivate.Id, _group.Id);
        var chatter = _telegram.Say(_alice, _group, "hello everyone");
        _telegram.Say(_alice, _group, "@bob_the_builder can you help?");
        _telegram.Say(_alice, _group, "I agree", replyTo: chatter);
        _telegram.Say(_alice, _group, "/help@some_other_bot");
        await AllHandledAsync();

        Assert.That(_conversations.Received, Is.Empty);
        Assert.That(_telegram.BotMessages(_group), Is.Empty);
        Assert.That(_telegram.Calls.Where(c => c.Method is "sendMessage" or "sendChatAction"), Is.Empty);
        Assert.That(bob.IsBot, Is.False);
    }

    [Test]
    public async Task AChatNotAllowed_GetsSilence_EvenInPrivate()
    {
        var stranger = _telegram.AddUser("Stranger");
        var strangerChat = _telegram.PrivateChat(stranger);
        var otherGroup = _telegram.Group("Elsewhere", super: false, stranger);
        await StartBotAsync(_alicePrivate.Id);
        _telegram.Say(stranger, strangerChat, "answer me");
        _telegram.Say(stranger, otherGroup, "@meatlizard_test_bot answer me");
        _telegram.Say(_alice, _group, "@meatlizard_test_bot the group is not allowed either");
        await AllHandledAsync();

        Assert.That(_conversations.Received, Is.Empty);
        Assert.That(_telegram.Calls.Where(c => c.Method is "sendMessage" or "sendChatAction"), Is.Empty);
    }

    [Test]
    public async Task ALongAnswer_IsSplitIntoMessagesOfAtMost4096Characters_EachReplyingToTheOneBefore()
    {
        var paragraphs = Enumerable.Range(1, 40).Select(i => $"Paragraph {i}: " + new string('x', 250)).ToList();
        _conversations.Answer = string.Join("\n\n", paragraphs);
        await StartBotAsync(_alicePrivate.Id);
        var question = _telegram.Say(_alice, _alicePrivate, "tell me everything");
        await AllHandledAsync();

        var parts = _telegram.BotMessages(_alicePrivate);
        Assert.That(parts, Has.Count.EqualTo(3), "10,640 characters need three messages of 4,096");
        Assert.That(parts.Select(p => p.Text.Length), Has.All.LessThanOrEqualTo(FakeTelegramServer.MaxText));
        Assert.That(parts[0].ReplyTo?.MessageId, Is.EqualTo(question.MessageId));
        Assert.That(parts[1].ReplyTo?.MessageId, Is.EqualTo(parts[0].MessageId));
        Assert.That(parts[2].ReplyTo?.MessageId, Is.EqualTo(parts[1].MessageId));
        var shown = string.Join("\n\n", parts.Select(p => p.Text.Trim()));
        Assert.That(shown, Is.EqualTo(_conversations.Answer), "split at paragraph boundaries, nothing lost");
    }

    [Test]
    public async Task Commands_AreAnsweredAsReplies_InPrivateAndInGroups()
    {
        await StartBotAsync(_alicePrivate.Id, _group.Id);
        var start = _telegram.Say(_alice, _alicePrivate, "/start");
        var reset = _telegram.Say(_alice, _group, "/reset@meatlizard_test_bot");
        await AllHandledAsync();

        Assert.That(_telegram.BotMessages(_alicePrivate).Single().Text, Is.EqualTo("How to use me."));
        Assert.That(_telegram.BotMessages(_alicePrivate).Single().ReplyTo?.MessageId, Is.EqualTo(start.MessageId));
        Assert.That(_telegram.BotMessages(_group).Single().Text, Is.EqualTo("Starting over."));
        Assert.That(_telegram.BotMessages(_group).Single().ReplyTo?.MessageId, Is.EqualTo(reset.MessageId));
        _commands.Verify(c => c.ResetAsync(
            It.Is<ChannelMember>(m => m.Username == $"telegram:{_alice.Id}"),
            new ChannelPlace(_group.Id.ToString(), _group.Id.ToString(), false), It.IsAny<CancellationToken>()));
        Assert.That(_conversations.Received, Is.Empty, "a command is no question");
        var menu = _telegram.Calls.Single(c => c.Method == "setMyCommands");
        Assert.That(menu.Status, Is.EqualTo(200));
    }

    [Test]
    public async Task Persona_IsInTheMenu_AndListsOrChoosesThroughTheChannelHandler()
    {
        await StartBotAsync(_alicePrivate.Id, _group.Id);
        _telegram.Say(_alice, _alicePrivate, "/persona");
        await AllHandledAsync();
        _telegram.Say(_alice, _alicePrivate, "/persona  Pirate ");
        await AllHandledAsync();

        Assert.That(_telegram.BotMessages(_alicePrivate).Select(m => m.Text), Is.EqualTo(new[] { "Personas: Pirate.", "As 'Pirate'." }));
        _personas.Verify(p => p.ChooseAsync(It.Is<ChannelMember>(m => m.Username == $"telegram:{_alice.Id}"),
            new ChannelPlace(_alicePrivate.Id.ToString(), null, true), "Pirate", It.IsAny<CancellationToken>()));
        Assert.That(TelegramChatBot.Commands.Select(c => c.Command), Does.Contain("persona"));
        Assert.That(_conversations.Received, Is.Empty, "a command is no question");
    }

    [Test]
    public async Task Link_IsPrivateOnlyInAPrivateChat_SoTheAnswerNamingTheAccountStaysThere()
    {
        _commands.Setup(c => c.LinkAsync(It.IsAny<ChannelMember>(), It.IsAny<string?>(), It.IsAny<bool>(),
            It.IsAny<CancellationToken>())).ReturnsAsync("Linked.");
        await StartBotAsync(_alicePrivate.Id, _group.Id);
        _telegram.Say(_alice, _alicePrivate, "/link ABCD-EFGH confirm");
        _telegram.Say(_alice, _group, "/link@meatlizard_test_bot ABCDEFGH");
        await AllHandledAsync();

        _commands.Verify(c => c.LinkAsync(It.IsAny<ChannelMember>(), "ABCD-EFGH confirm", true, It.IsAny<CancellationToken>()));
        _commands.Verify(c => c.LinkAsync(It.IsAny<ChannelMember>(), "ABCDEFGH", false, It.IsAny<CancellationToken>()));
    }

    [Test]
    public async Task StreamedEdits_AndTyping_AreAcceptedByTelegram_AndAnEditToTheSameTextIsHarmless()
    {
        await StartBotAsync(_alicePrivate.Id);
        var adapter = _bot!.Services.GetRequiredService<TelegramChannelAdapter>();
        var chat = _alicePrivate.Id.ToString();
        await adapter.ShowTypingAsync(chat, CancellationToken.None);
        var id = await adapter.PostAsync(chat, null, "Lizards ▍", CancellationToken.None);
        await Task.Delay(adapter.MinEditInterval);
        await adapter.EditAsync(chat, id, "Lizards are reptiles ▍", CancellationToken.None);
        await Task.Delay(adapter.MinEditInterval);
        await adapter.EditAsync(chat, id, "Lizards are reptiles.", CancellationToken.None);
        await adapter.EditAsync(chat, id, "Lizards are reptiles.", CancellationToken.None);

        var message = _telegram.BotMessages(_alicePrivate).Single();
        Assert.That(message.Versions, Is.EqualTo(new[] { "Lizards ▍", "Lizards are reptiles ▍", "Lizards are reptiles." }));
        var calls = _telegram.Calls.Where(c => c.Method is "sendMessage" or "editMessageText" or "sendChatAction").ToList();
        Assert.That(calls.Where(c => c.Status == 429), Is.Empty, "no flood at one edit a second");
        Assert.That(calls.Count(c => c.Status == 400), Is.EqualTo(1), "only the same-text edit was refused, and ignored");
        Assert.That(calls.Single(c => c.Method == "sendChatAction").Parameters["action"]!.ToString(), Is.EqualTo("typing"));
    }

    private async Task StartBotAsync(params long[] allowed)
    {
        _bot = await TelegramBotHost.StartAsync(_database, _telegram, allowed, new RecordedLogs(), services =>
        {
            services.AddSingleton<IChannelConversations>(_conversations);
            services.AddScoped(_ => _commands.Object);
            services.AddScoped(_ => _personas.Object);
        });
    }

    /// <summary>Every update said so far was taken from Telegram and handled (none left pending).</summary>
    private async Task AllHandledAsync()
    {
        await Eventually.TrueAsync(() =>
        {
            if (_telegram.UnconfirmedUpdateIds.Count > 0)
            {
                return false;
            }

            using var scope = _bot!.Services.CreateScope();
            return scope.ServiceProvider.GetRequiredService<ITelegramUpdateInbox>()
                .ReadPendingAsync(_telegram.Bot.Id.ToString(), CancellationToken.None).GetAwaiter().GetResult().Count == 0;
        }, "every update handled");
    }

    /// <summary>A channel handler that answers each question with <see cref="Answer"/> through the writer the real one uses.</summary>
    private sealed class AnsweringConversations : IChannelConversations
    {
        private readonly ConcurrentQueue<IncomingChannelMessage> _received = new();

        public string? Answer { get; set; }

        public IReadOnlyList<IncomingChannelMessage> Received => [.. _received];

        public async Task HandleAsync(IChannelAdapter adapter, IncomingChannelMessage message, CancellationToken cancellationToken)
        {
            _received.Enqueue(message);
            var writer = new ChannelAnswerWriter(adapter, Mock.Of<IChannelConversationStore>(), message.Place.ChatId,
                message.MessageId, new ChatId(Guid.NewGuid()));
            await writer.ShowAsync(Answer ?? "Answer to: " + message.Text, cancellationToken);
        }

        /// <summary>Telegram delivers unfinished updates again; the bot never asks for a resume.</summary>
        public Task ResumeAsync(IChannelAdapter adapter, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("the Telegram bot resumes through its inbox, not ResumeAsync");
    }
}
