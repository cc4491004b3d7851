using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Relay.Direct;
using MeatLizard.Presentation.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The direct relay (issue 39) end to end on each database: a client bot composed as its host is dials the API's relay
/// endpoint over a real WebSocket with a host token an admin made, and answers through the same relay code as over
/// Discord; an answer survives a connection dropped in the middle of it and arrives once; unknown and revoked tokens
/// are refused at the handshake and counted; frames that are too big or not the relay's are dropped and counted while
/// the connection goes on. Its host tokens (<c>DirectRelayApiTests.Tokens.cs</c>) and the client bot's <c>doctor</c>
/// against it (<c>DirectRelayApiTests.Doctor.cs</c>) are in files of their own.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed partial class DirectRelayApiTests(string storage)
{
    // Small enough to send one over it cheaply; the images the API takes are cut to fit it (the server refuses less).
    private const int MaxFrameBytes = 2 * 1024 * 1024;
    private const int MaxImageBytes = 512 * 1024;

    private readonly string _key = DirectClientBot.NewKey();

    private async Task<ApiHost> StartApiAsync(IDictionary<string, string?>? extra = null)
    {
        var settings = DirectClientBot.ApiSettings(_key);
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        settings["Relay:MaxFrameBytes"] = MaxFrameBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["OpenAi:MaxImageBytes"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Relay:MaxImageBytesPerRequest"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await new ApiHost(settings, withEngine: false, storage: storage).StartAsync();
    }

    private static async Task<HttpResponseMessage> MakeTokenAsync(ApiClient admin, string? name) =>
        await admin.PostAsync("api/v1/admin/hosts/tokens", new { name });

    private static async Task<string> TokenAsync(ApiClient admin, string name)
    {
        var made = await MakeTokenAsync(admin, name);
        Assert.That(made.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return (await ApiClient.ReadAsync(made)).GetProperty("token").GetString()!;
    }

    private static async Task<string> AskAsync(ApiClient user, Guid chat, string question)
    {
        var answer = await ApiClient.ReadAsync(
            await user.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = question }));
        Assert.That(answer.GetProperty("source").GetString(), Is.EqualTo("model"), "answered by the host, not the fallback");
        return answer.GetProperty("content").GetString()!;
    }

    private static Task WaitForTheHostAsync(ApiHost api) =>
        api.WaitForHostsAsync(hosts => hosts.Count == 1, "the host that dialled in is alive");

    private static ClientWebSocket NewSocket(string? token)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (token is not null)
        {
            socket.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        }

        socket.Options.SetRequestHeader(DirectRelayOptions.LinkHeader, Guid.NewGuid().ToString("D"));
        return socket;
    }

    private static Uri EndpointOf(ApiHost api) => new DirectRelayOptions { ServerUrl = api.BaseAddress }.EndpointUri;

    /// <summary>A raw connection to the relay endpoint, as a host would dial it.</summary>
    private static async Task<ClientWebSocket> DialAsync(ApiHost api, string? token)
    {
        var socket = NewSocket(token);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(EndpointOf(api), timeout.Token);
        return socket;
    }

    /// <summary>The handshake's status when the endpoint refuses <paramref name="token"/>.</summary>
    private static HttpStatusCode RefusalOf(ApiHost api, string? token)
    {
        using var socket = NewSocket(token);
        Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(EndpointOf(api), CancellationToken.None));
        return socket.HttpStatusCode;
    }

    private static Task SendTextAsync(WebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<DirectFrame> ReceiveFrameAsync(WebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var result = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.That(result.EndOfMessage, Is.True);
        return DirectFrame.Read(buffer.AsSpan(0, result.Count)) ?? throw new AssertionException("the server sent a frame that is not one");
    }

    [Test]
    public async Task AHostThatDialsIn_WithAnAdminsToken_AnswersThroughTheSameRelay_TokenByToken()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        var engine = new ScriptedEngine { Reply = r => $"Direct says: {r.Turns[^1].Content}" };
        await using var bot = await DirectClientBot.StartAsync(api, _key, await TokenAsync(admin, "studio-mac"), engine);
        await WaitForTheHostAsync(api);
        using var user = api.NewClient();
        await user.SignUpAsync();
        var chat = await user.CreateSessionAsync();

        var first = await AskAsync(user, chat, "hello over the wire");
        // Twenty words 40 ms apart: over Discord (a piece a second) about two pieces; here one per word or so.
        var words = string.Join(' ', Enumerable.Range(1, 20).Select(i => $"t{i}"));
        engine.Reply = _ => words;
        engine.DelayBetweenWords = TimeSpan.FromMilliseconds(40);
        await using var stream = await SessionStream.OpenAsync(api.BaseAddress, chat, user.AccessToken!);
        await user.PostAsync($"api/v1/sessions/{chat}/send", new { content = "stream it" });
        var streamed = await stream.WaitForAsync(e => e.GetProperty("type").GetString() == "message");
        var deltas = stream.Seen.Where(e => e.GetProperty("type").GetString() == "delta").ToList();
        var listed = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/hosts/tokens"));

        Assert.That(first, Is.EqualTo("Direct says: hello over the wire"));
        Assert.That(streamed.GetProperty("message").GetProperty("content").GetString(), Is.EqualTo(words));
        Assert.That(string.Concat(deltas.Select(d => d.GetProperty("text").GetString())), Is.EqualTo(words));
        Assert.That(deltas, Has.Count.GreaterThanOrEqualTo(10), "streamed in small pieces, not Discord's one a second");
        Assert.That(engine.Requests, Has.Count.EqualTo(2));
        Assert.That(bot.Host.Services.GetRequiredService<IOptions<RelayOptions>>().Value.PartialInterval,
            Is.EqualTo(TimeSpan.FromMilliseconds(30)), "partials coalesced to one per 30 ms, not Discord's second");
        var token = listed.EnumerateArray().Single();
        Assert.That(token.GetProperty("name").GetString(), Is.EqualTo("studio-mac"));
        Assert.That(token.GetProperty("connected").GetBoolean(), Is.True);
        Assert.That(token.GetProperty("lastUsedAt").GetDateTimeOffset(),
            Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)), "when it last let its host in");
        Assert.That(token.TryGetProperty("token", out _), Is.False, "a token is shown once, never listed");
    }

    [Test]
    public async Task AConnectionDroppedMidAnswer_ResumesOnItsOwn_AndTheAnswerArrivesExactlyOnce()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        var words = string.Join(' ', Enumerable.Range(1, 30).Select(i => $"w{i}"));
        var engine = new ScriptedEngine { Reply = _ => words, DelayBetweenWords = TimeSpan.FromMilliseconds(40) };
        await using var bot = await DirectClientBot.StartAsync(api, _key, await TokenAsync(admin, "laptop"), engine);
        await WaitForTheHostAsync(api);
        using var user = api.NewClient();
        await user.SignUpAsync();
        var chat = await user.CreateSessionAsync();

        var sent = await user.PostAsync($"api/v1/sessions/{chat}/send", new { content = "a long answer please" });
        await ChatApiTests.PollAsync(() => engine.Requests.Count == 1, "the host never got the question");
        await Task.Delay(300);
        // Down for longer than the rest of the answer takes: its last pieces and its final are sent while it is down.
        bot.Dialer.Drop(TimeSpan.FromSeconds(2.5));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var connectionsWhileDown = bot.Dialer.Connections;
        var waitingWhileDown = bot.Transport.Link.Unacknowledged;
        var storedWhileDown = (await ApiClient.ReadAsync(await user.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages").GetArrayLength();
        var messages = await ChatApiTests.WaitForMessagesAsync(user, chat, 2);
        await Task.Delay(500); // Anything sent twice would be stored by now.
        var after = await ApiClient.ReadAsync(await user.GetAsync($"api/v1/sessions/{chat}/messages"));

        Assert.That(sent.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(connectionsWhileDown, Is.EqualTo(1), "still down when the answer was done");
        Assert.That(waitingWhileDown, Is.GreaterThan(0), "the answer's envelopes waited on the link");
        Assert.That(storedWhileDown, Is.EqualTo(1), "nothing answered while down");
        Assert.That(bot.Dialer.Connections, Is.GreaterThanOrEqualTo(2), "the host dialled again after the drop");
        Assert.That(messages[1].GetProperty("content").GetString(), Is.EqualTo(words), "every piece, none twice");
        Assert.That(messages[1].GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.That(after.GetProperty("messages").GetArrayLength(), Is.EqualTo(2), "exactly one answer");
        Assert.That(engine.Requests, Has.Count.EqualTo(1), "answered once, not asked again");
    }

    [Test]
    public async Task FramesTooBigOrNotTheRelays_AndEnvelopesForChatsNeverGiven_AreDroppedAndCounted_TheConnectionGoesOn()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        var counters = api.Services.GetRequiredService<DirectRelayCounters>();
        using var socket = await DialAsync(api, await TokenAsync(admin, "prober"));
        var hello = await ReceiveFrameAsync(socket);
        await SendTextAsync(socket, Encoding.UTF8.GetString(DirectFrame.Hello(0, Guid.NewGuid(), null).Write()));

        await SendTextAsync(socket, "not json at all");
        await socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);
        await SendTextAsync(socket, new string('x', MaxFrameBytes + 1));
        await SendTextAsync(socket, """{"t":"e","s":1,"w":"plain text, no envelope"}""");
        var stranger = Encoding.UTF8.GetString(DirectFrame.Envelope(2, Guid.NewGuid(), "ML1.AAAA").Write());
        await SendTextAsync(socket, stranger);
        await SendTextAsync(socket, stranger);
        // A heartbeat-like envelope (no chat) goes on to the relay code, which refuses its seal; the ack for it says
        // that everything before it was read.
        await SendTextAsync(socket, Encoding.UTF8.GetString(DirectFrame.Envelope(3, null, "ML1.AAAA").Write()));
        DirectFrame ack;
        do
        {
            ack = await ReceiveFrameAsync(socket);
        }
        while (ack is not { Kind: DirectFrameKind.Ack, Seq: 3 });

        Assert.That(hello.Kind, Is.EqualTo(DirectFrameKind.Hello));
        Assert.That(counters.Count(DirectRelayDrop.NotAFrame), Is.EqualTo(2));
        Assert.That(counters.Count(DirectRelayDrop.Oversized), Is.EqualTo(1));
        Assert.That(counters.Count(DirectRelayDrop.NotAnEnvelope), Is.EqualTo(1));
        Assert.That(counters.Count(DirectRelayDrop.UnknownRequest), Is.EqualTo(1));
        Assert.That(counters.Count(DirectRelayDrop.Repeated), Is.EqualTo(1));
        Assert.That(socket.State, Is.EqualTo(WebSocketState.Open), "still connected: the server acknowledged all of it");
    }

    [Test]
    public async Task AnImageAsLargeAsTheApiTakes_ReachesTheHostWhole_ThroughTheDirectRelayAsItIsByDefault()
    {
        await using var upstream = LoopbackChatServer.Start();
        upstream.Respond = exchange => exchange.Path == "/v1/models"
            ? exchange.WriteJsonAsync(200, """{"object":"list","data":[{"id":"seer","object":"model"}]}""")
            : exchange.WriteStreamAsync([LoopbackChatServer.Chunk("A large"), LoopbackChatServer.Chunk(" picture.", finish: "stop"),
                LoopbackChatServer.Usage(30, 4)]);
        // Nothing set on either end but what the direct relay needs: the frame limit and the image caps as they ship.
        await using var api = await new ApiHost(DirectClientBot.ApiSettings(_key), withEngine: false, storage: storage).StartAsync();
        var admin = await api.FirstAdminAsync();
        await using var bot = await DirectClientBot.StartAsync(api, _key, await TokenAsync(admin, "seeing-mac"), engine: null,
            new Dictionary<string, string?>
            {
                ["Inference:Engine"] = "OpenAiCompatible",
                ["Inference:OpenAiCompatible:BaseUrl"] = upstream.BaseUrl.ToString(),
                ["Inference:OpenAiCompatible:Models:0:Name"] = "seer",
                ["Inference:OpenAiCompatible:Models:0:Vision"] = "true",
                ["Inference:DefaultModel"] = "seer",
            });
        await api.WaitForHostsAsync(hosts => hosts.Any(h => h.TakesWork && h.TakesImagesFor("seer")),
            "the host that dialled in sees with 'seer'");
        using var user = api.NewClient();
        await user.SignUpAsync();
        var apiKey = (await ApiClient.ReadAsync(await user.PostAsync("api/v1/auth/api-keys", new { name = "images" })))
            .GetProperty("key").GetString()!;
        using var caller = api.NewClient();
        caller.UseBearer(apiKey);
        // The most bytes one message's images may hold by default: a 1×1 PNG, padded after its end.
        var bytes = new byte[new OpenAiOptions().MaxImageBytes];
        TestImages.Png.CopyTo(bytes, 0);
        var image = TestImages.DataUrl("image/png", bytes);

        var answered = await caller.PostAsync("v1/chat/completions", new
        {
            model = "seer",
            messages = new object[]
            {
                new
                {
                    role = "user",
                    content = new object[]
                    {
                        new { type = "text", text = "What is in this picture?" },
                        new { type = "image_url", image_url = new { url = image } },
                    },
                },
            },
        });

        Assert.That(answered.StatusCode, Is.EqualTo(HttpStatusCode.OK), await answered.Content.ReadAsStringAsync());
        Assert.That((await ApiClient.ReadAsync(answered)).GetProperty("choices")[0].GetProperty("message")
            .GetProperty("content").GetString(), Is.EqualTo("A large picture."));
        var parts = upstream.Completions.Last().Json["messages"]!.AsArray()[^1]!["content"]!.AsArray();
        Assert.That(parts[1]!["image_url"]!["url"]!.GetValue<string>(), Is.EqualTo(image), "the image's exact bytes");
        Assert.That(bot.Host.Services.GetRequiredService<DirectRelayCounters>().Count(DirectRelayDrop.Oversized), Is.Zero);
    }

    [Test]
    public async Task TheOpenAiSdk_ThroughTheDirectRelay_ToLlamaCppOnTheHost_CompletesAndStreams()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        await using var bot = await DirectClientBot.StartAsync(api, _key, await TokenAsync(admin, "llama-mac"), engine: null,
            new Dictionary<string, string?>
            {
                ["Inference:Engine"] = "LlamaServer",
                ["Inference:LlamaCppDir"] = LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"),
                ["Inference:ModelPath"] = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"),
                ["Inference:ContextSize"] = "1024",
                ["Inference:MaxTokens"] = "32",
                ["Inference:Threads"] = "2",
            });
        using var owner = api.NewClient();
        await owner.SignUpAsync();
        var apiKey = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "openai sdk" })))
            .GetProperty("key").GetString()!;
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!await LlamaTestHost.WorkerReadyAsync(owner))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the host's llama-server did not report ready within 90 s");
            await Task.Delay(100);
        }

        OpenAiShapes.AssertCompletion(await OpenAiSdkClient.RunAsync("complete", api.BaseAddress, apiKey));
        OpenAiShapes.AssertStream(await OpenAiSdkClient.RunAsync("stream", api.BaseAddress, apiKey));
    }
}
