using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Domain.Messages;
using MeatLizard.Telegram.Tests.Fake;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// Telegram in the server bot host, end to end: a member writes on the loopback Telegram Bot API, the server bot's
/// Telegram poller hands the question to the channel handler, the answer comes from the client bot's model through
/// the encrypted relay over the loopback Discord, and lands in Telegram as a reply, edited as it grows.
/// </summary>
public sealed class TelegramThroughServerBotTests : TwoBotsTest
{
    private FakeTelegramServer _telegram = null!;

    [SetUp]
    public async Task StartTelegramAsync() => _telegram = await FakeTelegramServer.StartAsync();

    [TearDown]
    public async Task StopTelegramAsync() => await _telegram.DisposeAsync();

    [Test]
    public async Task APrivateChat_IsAnsweredByTheModel_AndTheNextMessageContinuesTheChat()
    {
        var alice = _telegram.AddUser("Alice", "alice_l");
        var chat = _telegram.PrivateChat(alice);
        Bots.Engine.Reply = r => "You asked: " + string.Join(" / ", r.Turns.Where(t => t.Role == MessageRole.User).Select(t => t.Content));
        await StartAsync(chat.Id);

        var question = _telegram.Say(alice, chat, "what do lizards eat");
        var answer = await FinalAnswerAsync(chat, 1);
        Assert.That(answer.Text, Is.EqualTo("You asked: what do lizards eat"));
        Assert.That(answer.ReplyTo?.MessageId, Is.EqualTo(question.MessageId));

        _telegram.Say(alice, chat, "and what eats them");
        var second = await FinalAnswerAsync(chat, 2);
        Assert.That(second.Text, Is.EqualTo("You asked: what do lizards eat / and what eats them"), "the model saw the earlier turn");
        Assert.That(_telegram.Calls.Where(c => c.Status == 429), Is.Empty);
    }

    [Test]
    public async Task AGroupMention_IsAnswered_AMessageWithoutMention_GetsSilence()
    {
        var alice = _telegram.AddUser("Alice", "alice_l");
        var group = _telegram.Group("Lizards", super: true, alice);
        await StartAsync(group.Id);

        _telegram.Say(alice, group, "lizards are great");
        var question = _telegram.Say(alice, group, "@meatlizard_test_bot are lizards great");
        var answer = await FinalAnswerAsync(group, 1);

        Assert.That(answer.Text, Is.EqualTo("You said: are lizards great"));
        Assert.That(answer.ReplyTo?.MessageId, Is.EqualTo(question.MessageId));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "the message without a mention never reached the model");
    }

    [Test]
    [NonParallelizable]
    public async Task APrivateChat_IsAnsweredByLlamaCpp_AndTelegramShowsTheStoredAnswer()
    {
        LlamaThroughDiscordTests.UseLlama(Bots);
        var alice = _telegram.AddUser("Alice", "alice_l");
        var chat = _telegram.PrivateChat(alice);
        await StartAsync(chat.Id);
        await LlamaThroughDiscordTests.WaitForAReadyEngineAsync(Bots, TimeSpan.FromSeconds(120));

        _telegram.Say(alice, chat, "Where do the meat lizards of the northern desert sleep at night?");
        var answer = await FinalAnswerAsync(chat, 1, TimeSpan.FromSeconds(150));

        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        var chatId = await scope.ServiceProvider.GetRequiredService<IChannelConversationStore>()
            .FindCurrentAsync("telegram", chat.Id.ToString(), alice.Id.ToString(), CancellationToken.None);
        Assert.That(chatId, Is.Not.Null, "the conversation is a chat in our database");
        var stored = (await scope.ServiceProvider.GetRequiredService<IChatReadModel>()
            .GetTranscriptAsync(chatId!.Value, false, CancellationToken.None)).Single(m => m.Role == "assistant");
        Assert.That(stored.Source, Is.EqualTo("model"), "answered by llama.cpp, not the fallback");
        Assert.That(answer.Text, Is.EqualTo(stored.Content.Trim()).Or.EqualTo(stored.Content), "Telegram shows the stored answer");
        Assert.That(_telegram.Calls.Any(c => c.Method == "sendChatAction" && c.Status == 200), "typing while the model worked");
    }

    private async Task StartAsync(params long[] allowedChats)
    {
        Bots.PerBot[Bots.ServerBot] = new()
        {
            ["Telegram:BotToken"] = _telegram.Token,
            ["Telegram:ApiBaseUrl"] = _telegram.BaseUrl,
            ["Telegram:AllowedChatIds"] = string.Join(',', allowedChats),
            ["Telegram:PollTimeoutSeconds"] = "1",
        };
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
    }

    /// <summary>The bot's <paramref name="count"/>th message in the chat once it no longer shows the "writing" mark.</summary>
    private async Task<FakeMessage> FinalAnswerAsync(FakeChat chat, int count, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            var mine = _telegram.BotMessages(chat);
            if (mine.Count >= count && !mine[count - 1].Text.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal))
            {
                return mine[count - 1];
            }

            await Task.Delay(50);
        }

        Assert.Fail($"No final answer #{count} in Telegram chat {chat.Id}; the bot posted: " +
                    string.Join(" | ", _telegram.BotMessages(chat).Select(m => m.Text)));
        return null!;
    }
}
