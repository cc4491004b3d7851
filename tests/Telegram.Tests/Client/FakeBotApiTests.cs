using System.Text;
using System.Text.Json.Nodes;
using MeatLizard.Telegram.Tests.Fake;
using NUnit.Framework;

namespace MeatLizard.Telegram.Tests.Client;

/// <summary>
/// The loopback Bot API answers as the documentation says, whatever the encoding of the request: what our client
/// meets in tests is what it would meet at api.telegram.org.
/// </summary>
public sealed class FakeBotApiTests
{
    private FakeTelegramServer _telegram = null!;
    private HttpClient _http = null!;

    [SetUp]
    public async Task SetUp()
    {
        _telegram = await FakeTelegramServer.StartAsync();
        _http = new HttpClient();
    }

    [TearDown]
    public async Task TearDown()
    {
        _http.Dispose();
        await _telegram.DisposeAsync();
    }

    [Test]
    public async Task ABadToken_Is401_AnUnknownMethod404()
    {
        var (status, body) = await PostJsonAsync("bot123:nope/getMe", new JsonObject());
        Assert.That((status, body["ok"]!.GetValue<bool>(), body["error_code"]!.GetValue<int>(), body["description"]!.ToString()),
            Is.EqualTo((401, false, 401, "Unauthorized")));
        (status, body) = await PostJsonAsync($"bot{_telegram.Token}/sendLizard", new JsonObject());
        Assert.That((status, body["error_code"]!.GetValue<int>()), Is.EqualTo((404, 404)));
    }

    [Test]
    public async Task GetMe_OverGet_AndSendMessage_OverAFormWithReplyParametersAsJsonText()
    {
        using var me = await _http.GetAsync($"{_telegram.BaseUrl}/bot{_telegram.Token}/getMe");
        var bot = JsonNode.Parse(await me.Content.ReadAsStringAsync())!["result"]!;
        Assert.That(bot["is_bot"]!.GetValue<bool>() && bot["username"]!.ToString() == _telegram.Bot.Username);

        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        var question = _telegram.Say(alice, chat, "hi");
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["chat_id"] = chat.Id.ToString(),
            ["text"] = "hello",
            ["reply_parameters"] = $"{{\"message_id\":{question.MessageId}}}",
        });
        using var sent = await _http.PostAsync($"{_telegram.BaseUrl}/bot{_telegram.Token}/sendMessage", form);
        var message = JsonNode.Parse(await sent.Content.ReadAsStringAsync())!["result"]!;
        Assert.That(message["message_id"]!.GetValue<long>(), Is.EqualTo(2), "message ids count per chat");
        Assert.That(message["reply_to_message"]!["message_id"]!.GetValue<long>(), Is.EqualTo(question.MessageId));
    }

    [Test]
    public async Task Texts_EmptyTooLongUnchanged_AndRepliesToNothing_AreRefusedWith400()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        var send = $"bot{_telegram.Token}/sendMessage";
        Assert.That(await DescriptionAsync(send, new JsonObject { ["chat_id"] = chat.Id, ["text"] = " " }),
            Is.EqualTo("Bad Request: message text is empty"));
        Assert.That(await DescriptionAsync(send, new JsonObject { ["chat_id"] = chat.Id, ["text"] = new string('a', 4097) }),
            Is.EqualTo("Bad Request: message is too long"));
        Assert.That(await DescriptionAsync(send, new JsonObject { ["chat_id"] = chat.Id, ["text"] = "a", ["reply_to_message_id"] = 99 }),
            Is.EqualTo("Bad Request: message to be replied not found"));
        Assert.That(await DescriptionAsync(send, new JsonObject { ["chat_id"] = 777, ["text"] = "a" }),
            Is.EqualTo("Bad Request: chat not found"));

        var (_, sent) = await PostJsonAsync(send, new JsonObject { ["chat_id"] = chat.Id, ["text"] = new string('a', 4096) });
        var id = sent["result"]!["message_id"]!.GetValue<long>();
        Assert.That(await DescriptionAsync($"bot{_telegram.Token}/editMessageText",
                new JsonObject { ["chat_id"] = chat.Id, ["message_id"] = id, ["text"] = new string('a', 4096) }),
            Does.StartWith("Bad Request: message is not modified"));
    }

    [Test]
    public async Task MessagesFasterThanTelegramAllows_Get429WithRetryAfter()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        var statuses = new List<int>();
        JsonObject last = [];
        for (var i = 0; i < 5; i++)
        {
            (var status, last) = await PostJsonAsync($"bot{_telegram.Token}/sendMessage", new JsonObject { ["chat_id"] = chat.Id, ["text"] = $"m{i}" });
            statuses.Add(status);
        }

        Assert.That(statuses, Is.EqualTo(new[] { 200, 200, 200, 429, 429 }));
        Assert.That(last["parameters"]!["retry_after"]!.GetValue<int>(), Is.InRange(1, 2));
        Assert.That(last["description"]!.ToString(), Does.StartWith("Too Many Requests: retry after"));
    }

    [Test]
    public async Task ATokenHoldingTheWordBot_ReachesItsMethods_WhoseNamesIgnoreCase()
    {
        // A random token holds "bot" in any case about once in 1,600 fakes; the URL's "bot" prefix is the first three
        // characters only.
        await using var fake = await FakeTelegramServer.StartAsync("xBoTbot_bOtAAx");
        using var content = new StringContent("{}", Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync($"{fake.BaseUrl}/bot{fake.Token}/GETME", content);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That(((int)response.StatusCode, body["result"]?["id"]?.GetValue<long>()), Is.EqualTo((200, fake.Bot.Id)));
        Assert.That(fake.Calls.Single().Method, Is.EqualTo("getMe"));

        using var without = new StringContent("{}", Encoding.UTF8, "application/json");
        using var refused = await _http.PostAsync($"{fake.BaseUrl}/{fake.Token}/getMe", without);
        Assert.That((int)refused.StatusCode, Is.EqualTo(404), "no bot prefix");
    }

    [Test]
    public async Task GetUpdates_ForgetsWhatAnOffsetConfirms_AndASecondPollEndsTheFirstWith409()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        _telegram.Say(alice, chat, "one");
        _telegram.Say(alice, chat, "two");
        var url = $"bot{_telegram.Token}/getUpdates";
        var (_, first) = await PostJsonAsync(url, new JsonObject { ["limit"] = 1 });
        var firstId = first["result"]![0]!["update_id"]!.GetValue<long>();
        var (_, again) = await PostJsonAsync(url, new JsonObject());
        Assert.That(again["result"]!.AsArray(), Has.Count.EqualTo(2), "nothing confirmed without an offset");

        var (_, next) = await PostJsonAsync(url, new JsonObject { ["offset"] = firstId + 1 });
        Assert.That(next["result"]![0]!["message"]!["text"]!.ToString(), Is.EqualTo("two"));
        Assert.That(next["result"]![0]!["update_id"]!.GetValue<long>(), Is.GreaterThan(firstId));
        Assert.That(_telegram.UnconfirmedUpdateIds, Has.Count.EqualTo(1));

        var waiting = PostJsonAsync(url, new JsonObject { ["offset"] = firstId + 2, ["timeout"] = 30 });
        await Task.Delay(200);
        var (_, second) = await PostJsonAsync(url, new JsonObject { ["offset"] = firstId + 2 });
        var (status, ended) = await waiting;
        Assert.That((status, ended["description"]!.ToString()), Is.EqualTo((409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")));
        Assert.That(second["result"]!.AsArray(), Is.Empty);
        Assert.That(_telegram.PollConflicts, Is.EqualTo(1));
    }

    [Test]
    public async Task APollWhoseClientWentAway_IsNoConflict()
    {
        // A bot killed mid-poll: its connection closes, and no other poller ended its poll. The poll may wait long, so
        // only the client's going away ends it.
        _telegram.MaxPollWait = TimeSpan.FromSeconds(30);
        var url = $"{_telegram.BaseUrl}/bot{_telegram.Token}/getUpdates";
        using (var gone = new CancellationTokenSource())
        {
            using var content = new StringContent(new JsonObject { ["timeout"] = 30 }.ToJsonString(), Encoding.UTF8, "application/json");
            var polling = _http.PostAsync(url, content, gone.Token);
            // Gone once the fake is waiting in the poll, not after a fixed moment: on a loaded machine (one clean-clone CI
            // run beside a soak) a 300 ms timer fired before the request reached the fake, which then saw no poll at all.
            var started = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (_telegram.Polls == 0 && DateTime.UtcNow < started)
            {
                await Task.Delay(10);
            }

            Assert.That(_telegram.Polls, Is.EqualTo(1), "the poll reached the fake");
            await gone.CancelAsync();
            Assert.That(async () => await polling, Throws.InstanceOf<OperationCanceledException>());
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!_telegram.Calls.Any(c => c.Method == "getUpdates") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        var (status, _) = await PostJsonAsync($"bot{_telegram.Token}/getUpdates", new JsonObject { ["timeout"] = 0 });
        Assert.Multiple(() =>
        {
            Assert.That(_telegram.Calls.First(c => c.Method == "getUpdates").Status, Is.EqualTo(499), "the poll ended with its client");
            Assert.That(status, Is.EqualTo(200));
            Assert.That(_telegram.PollConflicts, Is.Zero);
        });
    }

    private async Task<string> DescriptionAsync(string path, JsonObject body)
    {
        var (status, answer) = await PostJsonAsync(path, body);
        Assert.That(status, Is.EqualTo(400));
        return answer["description"]!.ToString();
    }

    private async Task<(int Status, JsonObject Body)> PostJsonAsync(string path, JsonObject body)
    {
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync($"{_telegram.BaseUrl}/{path}", content);
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }
}
