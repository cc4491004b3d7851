using System.Net;
using System.Text;
using MeatLizard.Infrastructure.Telegram;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Telegram.Tests.Client;

public sealed class TelegramUpdatesTests
{
    [Test]
    public async Task AMessage_WithHalfASurrogatePairEscapedAlone_IsReadWithTheReplacementCharacter()
    {
        // Valid JSON that is not valid Unicode (getUpdates' body as the Bot API documents it): the update was skipped
        // as unreadable, and the member's question went unanswered.
        const string body = """
            {"ok":true,"result":[
             {"update_id":7,"message":{"message_id":3,"date":1764676800,"chat":{"id":42,"type":"private"},
              "from":{"id":42,"is_bot":false,"first_name":"Al\udc00ice"},"text":"are you \ud800there? \ud83e\udd8e"}},
             {"update_id":8,"message":{"message_id":4,"date":1764676801,"chat":{"id":42,"type":"private"},"text":"next"}}]}
            """;
        var updates = await PollAsync(body);

        Assert.That(updates.Select(u => u.UpdateId), Is.EqualTo(new long[] { 7, 8 }));
        Assert.That(updates[0].Message?.Text, Is.EqualTo("are you \uFFFDthere? \U0001F98E"), "the lone half replaced, the pair kept");
        Assert.That(updates[0].Message?.From?.FirstName, Is.EqualTo("Al\uFFFDice"));
        Assert.That(updates[1].Message?.Text, Is.EqualTo("next"));
    }

    [Test]
    public async Task AnUpdateWithoutAReadableId_IsLeftOut_AndTheBatchIsRead()
    {
        // Before, one with its id as text failed the batch as a whole, and one without was read as update 0.
        const string body = """
            {"ok":true,"result":[
             {"update_id":"seven","message":{"message_id":3,"date":1764676800,"chat":{"id":42,"type":"private"},"text":"?"}},
             {"message":{"message_id":4,"date":1764676800,"chat":{"id":42,"type":"private"},"text":"?"}},
             {"update_id":8,"message":{"message_id":5,"date":1764676801,"chat":{"id":42,"type":"private"},"text":"next"}}]}
            """;
        var updates = await PollAsync(body);

        Assert.That(updates.Select(u => (u.UpdateId, u.Message?.Text)), Is.EqualTo(new[] { (8L, (string?)"next") }));

        // Only such updates: nothing to confirm them by, so the poll fails (and the poller waits before the next).
        Assert.ThrowsAsync<TelegramApiException>(() =>
            PollAsync("""{"ok":true,"result":[{"message":{"message_id":4,"date":1,"chat":{"id":42,"type":"private"}}}]}"""));
    }

    /// <summary>One getUpdates through the client, answered with <paramref name="body"/>.</summary>
    private static async Task<IReadOnlyList<TelegramUpdate>> PollAsync(string body)
    {
        using var http = new HttpClient(new Answering(body));
        var client = new TelegramBotClient(http, Options(), TimeProvider.System, NullLogger<TelegramBotClient>.Instance);
        return await client.GetUpdatesAsync(0, 100, 0, CancellationToken.None);
    }

    private static TelegramOptions Options() =>
        TelegramOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = "123456:" + new string('A', 35),
            ["Telegram:ApiBaseUrl"] = "http://127.0.0.1:9",
            ["Telegram:AllowedChatIds"] = "42",
        }).Build())!;

    private sealed class Answering(string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            });
    }
}
