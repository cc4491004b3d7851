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
/// the connection goes on.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class DirectRelayApiTests(string storage)
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
    public async Task TheAdminStatus_WithTheDirectRelay_ListsEachHostToken_ConnectedLastConnectedAndRevoked_AsTheTokensListDoes()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        await using var bot = await DirectClientBot.StartAsync(api, _key, await TokenAsync(admin, "studio-mac"), new ScriptedEngine());
        await WaitForTheHostAsync(api);
        await TokenAsync(admin, "spare-mac");
        await TokenAsync(admin, "old-mac");
        (await admin.DeleteAsync("api/v1/admin/hosts/tokens/old-mac")).EnsureSuccessStatusCode();

        var status = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/status"));
        var listed = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/hosts/tokens"));
        using var member = api.NewClient();
        await member.SignUpAsync();
        var refused = await member.GetAsync("api/v1/admin/status");

        var tokens = status.GetProperty("hostTokens").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        Assert.That(status.GetProperty("platform").GetProperty("transport").GetString(), Is.EqualTo("Direct"));
        Assert.That(tokens.Keys, Is.EquivalentTo(new[] { "studio-mac", "spare-mac", "old-mac" }));
        Assert.That(tokens["studio-mac"].GetProperty("connected").GetBoolean(), Is.True);
        Assert.That(tokens["studio-mac"].GetProperty("lastUsedAt").GetDateTimeOffset(),
            Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)), "when it last connected");
        Assert.That(tokens["studio-mac"].TryGetProperty("revokedAt", out _), Is.False);
        Assert.That(tokens["spare-mac"].GetProperty("connected").GetBoolean(), Is.False);
        Assert.That(tokens["spare-mac"].TryGetProperty("lastUsedAt", out _), Is.False, "never connected");
        Assert.That(tokens["old-mac"].GetProperty("connected").GetBoolean(), Is.False);
        Assert.That(tokens["old-mac"].GetProperty("revokedAt").GetDateTimeOffset(),
            Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)));
        Assert.That(status.GetProperty("hostTokens").GetRawText(), Is.EqualTo(listed.GetRawText()),
            "the same tokens, in the same order and shape, as the tokens list");
        Assert.That(status.GetProperty("hostTokens").GetRawText(), Does.Not.Contain("mlh_"), "never a token itself");
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "admins only");
    }

    [Test]
    public async Task TheAdminStatus_WithoutTheDirectRelay_HasNoHostTokens()
    {
        await using var api = await new ApiHost(withEngine: false, storage: storage).StartAsync();
        var admin = await api.FirstAdminAsync();
        await TokenAsync(admin, "studio-mac");

        var status = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/status"));

        Assert.That(status.GetProperty("platform").GetProperty("transport").GetString(), Is.EqualTo("InProcess"));
        Assert.That(status.TryGetProperty("hostTokens", out _), Is.False, "no direct relay, so no host tokens in its status");
    }

    [Test]
    public async Task HostsAdd_OnAnApiWithoutTheDirectRelay_MakesTheToken_AndSaysNoHostCanDialInYet()
    {
        await using var api = await new ApiHost(withEngine: false, storage: storage).StartAsync();
        var output = new StringWriter();

        var added = await AdminCommandLine.RunAsync(["hosts", "add", "early-mac"], api.Services, null, output, TextWriter.Null);

        Assert.That(added, Is.Zero);
        Assert.That(output.ToString(), Does.Contain("mlh_"), "made ahead of the switch, as in the console");
        Assert.That(output.ToString(), Does.Contain(
            "This API does not run the direct relay (Relay:Transport is InProcess): early-mac cannot dial in with the token until it does"));
        Assert.That(output.ToString(), Does.Not.Contain("client bot settings"));
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
    public async Task TheClientBotsDoctor_ProbesTheServerAndItsToken_WithoutTakingOverTheLiveHostsLink()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        var token = await TokenAsync(admin, "studio-mac");
        var engine = new ScriptedEngine { Reply = r => $"Direct says: {r.Turns[^1].Content}" };
        await using var bot = await DirectClientBot.StartAsync(api, _key, token, engine);
        await WaitForTheHostAsync(api);
        var connections = bot.Dialer.Connections;
        var server = api.BaseAddress.GetLeftPart(UriPartial.Authority);

        // The operator runs `doctor` on the Mac while the client bot serves, with the same settings; and on a Mac whose
        // client bot has not connected yet.
        var accepted = (await DirectRelayDoctorAsync(api.BaseAddress, token))[0];
        var spare = (await DirectRelayDoctorAsync(api.BaseAddress, await TokenAsync(admin, "spare-mac")))[0];
        var refused = (await DirectRelayDoctorAsync(api.BaseAddress, "mlh_not-a-token-anyone-made")).Single();
        var unreachable = (await DirectRelayDoctorAsync(new Uri("http://127.0.0.1:1/"), token)).Single();
        using var user = api.NewClient();
        await user.SignUpAsync();
        var answer = await AskAsync(user, await user.CreateSessionAsync(), "still there?");

        Assert.That(accepted, Is.EqualTo($"ok   direct relay: {server} accepts Relay:HostToken (host studio-mac)"));
        Assert.That(refused, Does.StartWith($"FAIL direct relay: {server} refused Relay:HostToken (unknown or revoked) — "));
        Assert.That(unreachable, Does.StartWith("FAIL direct relay: http://127.0.0.1:1 could not be reached"));
        Assert.That(answer, Is.EqualTo("Direct says: still there?"), "the live host still answers");
        Assert.That(bot.Dialer.Connections, Is.EqualTo(connections), "the probe did not take the host's link over");
        Assert.That(api.Services.GetRequiredService<IRelayHostLinks>().IsConnected("studio-mac"), Is.True);
        Assert.That(spare, Is.EqualTo($"ok   direct relay: {server} accepts Relay:HostToken (host spare-mac)"));
        var listed = (await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/hosts/tokens"))).EnumerateArray()
            .Single(t => t.GetProperty("name").GetString() == "spare-mac");
        Assert.That(!listed.TryGetProperty("lastUsedAt", out var used) || used.ValueKind == JsonValueKind.Null, Is.True,
            "a probe is no connection: the console does not say the spare Mac connected");
    }

    /// <summary>The direct relay's lines of the <c>doctor</c> verb of a client bot composed with these settings.</summary>
    private async Task<string[]> DirectRelayDoctorAsync(Uri server, string token, IDictionary<string, string?>? settings = null)
    {
        await using var doctor = DirectClientBot.Build(server, _key, token, new ScriptedEngine(), settings);
        var check = doctor.Host.Services.GetServices<IDoctorCheck>().OfType<DirectRelayDoctorCheck>().Single();
        return [.. (await check.RunAsync(CancellationToken.None)).Select(line => line.ToString())];
    }

    /// <summary>An API holding relay keys 1 (<see cref="_key"/>, active) and 2 (<paramref name="second"/>).</summary>
    private Task<ApiHost> StartApiWithTwoKeysAsync(string second) => StartApiAsync(new Dictionary<string, string?>
    {
        ["Relay:Keys:1:Id"] = "2",
        ["Relay:Keys:1:Key"] = second,
        ["Relay:ActiveKeyId"] = "1",
    });

    /// <summary>A client bot's keys beside key 1 (<see cref="_key"/>, active): <paramref name="id"/> holding <paramref name="key"/>.</summary>
    private static Dictionary<string, string?> SecondKey(int id, string key) => new()
    {
        ["Relay:Keys:1:Id"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Relay:Keys:1:Key"] = key,
        ["Relay:ActiveKeyId"] = "1",
    };

    [Test]
    public async Task TheRelayEndpoint_TellsAHostWithALiveToken_ItsKeysByFingerprint_NeverAKey_AndARefusedCallerNothing()
    {
        var second = DirectClientBot.NewKey();
        await using var api = await StartApiWithTwoKeysAsync(second);
        var admin = await api.FirstAdminAsync();
        var counters = api.Services.GetRequiredService<DirectRelayCounters>();
        var token = await TokenAsync(admin, "studio-mac");
        var revoked = await TokenAsync(admin, "old-mac");
        (await admin.DeleteAsync("api/v1/admin/hosts/tokens/old-mac")).EnsureSuccessStatusCode();
        // The fingerprints as the host's own ring computes them from the same keys.
        var expected = RelayKeyRing.Create(new Dictionary<byte, byte[]>
        {
            [1] = Convert.FromBase64String(_key),
            [2] = Convert.FromBase64String(second),
        }, activeKeyId: 1);
        var refusedBefore = counters.Count(DirectRelayDrop.RefusedToken);

        var (status, body) = await ProbeAsync(api, token);
        var strangers = new List<(HttpStatusCode Status, string Body)>
        {
            await ProbeAsync(api, null),
            await ProbeAsync(api, "mlh_not-a-token-anyone-made"),
            await ProbeAsync(api, revoked),
        };

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        using var answer = JsonDocument.Parse(body);
        Assert.That(answer.RootElement.GetProperty("host").GetString(), Is.EqualTo("studio-mac"));
        var keys = answer.RootElement.GetProperty("keys").EnumerateArray()
            .Select(k => (k.GetProperty("id").GetInt32(), k.GetProperty("fingerprint").GetString())).ToList();
        Assert.That(keys, Is.EqualTo(new[] { (1, expected.Fingerprint(1)), (2, expected.Fingerprint(2)) }));
        foreach (var key in new[] { _key, second })
        {
            Assert.That(body, Does.Not.Contain(key).And.Not.Contain(Convert.ToHexString(Convert.FromBase64String(key))).IgnoreCase,
                "never a key");
        }

        Assert.That(strangers.Select(s => s.Status), Has.All.EqualTo(HttpStatusCode.Unauthorized));
        foreach (var (_, refusal) in strangers)
        {
            Assert.That(refusal, Does.Not.Contain("fingerprint").And.Not.Contain(expected.Fingerprint(1)).And.Not.Contain(expected.Fingerprint(2)),
                "no token, an unknown or a revoked one: not even a fingerprint");
        }

        Assert.That(counters.Count(DirectRelayDrop.RefusedToken), Is.EqualTo(refusedBefore + 3), "each refused probe counted");
    }

    /// <summary>A plain GET on the relay endpoint (no WebSocket upgrade), as the client bot's doctor sends it.</summary>
    private static async Task<(HttpStatusCode Status, string Body)> ProbeAsync(ApiHost api, string? token)
    {
        using var http = new HttpClient();
        using var probe = new HttpRequestMessage(HttpMethod.Get, new DirectRelayOptions { ServerUrl = api.BaseAddress }.ProbeUri);
        if (token is not null)
        {
            probe.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await http.SendAsync(probe);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task TheClientBotsDoctor_ComparesItsRelayKeysWithTheApis_NamingEachKeyThatDiffersOrOnlyOneSideHolds()
    {
        var second = DirectClientBot.NewKey();
        await using var api = await StartApiWithTwoKeysAsync(second);
        var admin = await api.FirstAdminAsync();
        var token = await TokenAsync(admin, "studio-mac");
        var server = api.BaseAddress.GetLeftPart(UriPartial.Authority);
        var other = DirectClientBot.NewKey();

        var same = await DirectRelayDoctorAsync(api.BaseAddress, token, SecondKey(2, second));
        var differs = await DirectRelayDoctorAsync(api.BaseAddress, token, SecondKey(2, other));
        var missing = await DirectRelayDoctorAsync(api.BaseAddress, token);
        var missingBothWays = await DirectRelayDoctorAsync(api.BaseAddress, token, SecondKey(3, other));
        var refused = await DirectRelayDoctorAsync(api.BaseAddress, "mlh_not-a-token-anyone-made", SecondKey(2, second));

        const string fix = " — set Relay:Keys here to the API's, each id with the same key (the API's `doctor` prints their fingerprints)";
        Assert.That(same, Is.EqualTo(new[]
        {
            $"ok   direct relay: {server} accepts Relay:HostToken (host studio-mac)",
            $"ok   direct relay keys: Relay:Keys match {server}'s (keys 1, 2)",
        }));
        Assert.That(differs[1], Is.EqualTo($"FAIL direct relay keys: Relay:Keys here do not match {server}'s: key 2 differs; key 1 matches{fix}"));
        Assert.That(missing[1], Is.EqualTo($"FAIL direct relay keys: Relay:Keys here do not match {server}'s: key 2 is only on the API; key 1 matches{fix}"));
        Assert.That(missingBothWays[1], Is.EqualTo(
            $"FAIL direct relay keys: Relay:Keys here do not match {server}'s: key 3 is only here; key 2 is only on the API; key 1 matches{fix}"));
        Assert.That(refused, Is.EqualTo(new[]
        {
            $"FAIL direct relay: {server} refused Relay:HostToken (unknown or revoked) — make a token on the API host with `hosts add NAME` and set it as Relay:HostToken",
        }), "a refused token learns nothing of the keys");
        var everything = string.Join("\n", same.Concat(differs).Concat(missing).Concat(missingBothWays).Concat(refused));
        foreach (var key in new[] { _key, second, other })
        {
            Assert.That(everything, Does.Not.Contain(key).And.Not.Contain(Convert.ToHexString(Convert.FromBase64String(key))).IgnoreCase);
        }
    }

    [Test]
    public async Task UnknownAndRevokedTokens_AreRefusedAtTheHandshake_AndCounted_AndRevokingEndsTheHostsConnection()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        var counters = api.Services.GetRequiredService<DirectRelayCounters>();
        var token = await TokenAsync(admin, "old-mac");
        await using var bot = await DirectClientBot.StartAsync(api, _key, token, new ScriptedEngine());
        await WaitForTheHostAsync(api);

        var noToken = RefusalOf(api, null);
        var unknown = RefusalOf(api, "mlh_not-a-token-anyone-made");
        var refusedBefore = counters.Count(DirectRelayDrop.RefusedToken);
        var revoked = await admin.DeleteAsync("api/v1/admin/hosts/tokens/old-mac");
        var revokedAgain = await admin.DeleteAsync("api/v1/admin/hosts/tokens/old-mac");
        var afterRevoking = RefusalOf(api, token);
        await ChatApiTests.PollAsync(() => !api.Services.GetRequiredService<IRelayHostLinks>().IsConnected("old-mac"),
            "the revoked host's connection did not end");

        Assert.That(noToken, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(unknown, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(refusedBefore, Is.GreaterThanOrEqualTo(2), "each refused handshake counted");
        Assert.That(revoked.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(revokedAgain.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(afterRevoking, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(counters.Count(DirectRelayDrop.RefusedToken), Is.GreaterThan(refusedBefore));
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

    [Test]
    public async Task HostTokens_AreShownOnce_OneLivePerName_AdminsOnly_ByTheApiAndTheCommandLine_AndAudited()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        using var user = api.NewClient();
        await user.SignUpAsync();

        var made = await MakeTokenAsync(admin, "mac-mini");
        var twice = await MakeTokenAsync(admin, "mac-mini");
        var badName = await MakeTokenAsync(admin, "no spaces/please");
        var byUser = await MakeTokenAsync(user, "sneaky");
        var output = new StringWriter();
        var error = new StringWriter();
        var added = await AdminCommandLine.RunAsync(["hosts", "add", "cli-host"], api.Services, null, output, error);
        var revokedByCli = await AdminCommandLine.RunAsync(["hosts", "revoke", "cli-host"], api.Services, null, output, error);
        var revokeUnknown = await AdminCommandLine.RunAsync(["hosts", "revoke", "nobody"], api.Services, null, output, error);
        var listed = (await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/hosts/tokens"))).EnumerateArray().ToList();

        var token = (await ApiClient.ReadAsync(made)).GetProperty("token").GetString()!;
        Assert.That(made.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(token, Does.StartWith("mlh_"));
        Assert.That(twice.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await ApiClient.ReadAsync(twice)).GetProperty("errors").TryGetProperty("name", out _), Is.True,
            "a duplicate names the field");
        Assert.That(badName.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(badName)).GetProperty("errors").TryGetProperty("name", out _), Is.True);
        Assert.That(byUser.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((added, revokedByCli, revokeUnknown), Is.EqualTo((0, 0, 1)));
        Assert.That(output.ToString(), Does.Contain("mlh_"), "the verb prints the token once");
        var fingerprint = api.Services.GetRequiredService<RelayKeyRing>().Fingerprint(1);
        Assert.That(output.ToString(), Does.Contain($"ok   relay keys: key 1 (active) fingerprint {fingerprint}"),
            "the keys the host must hold, by fingerprint, as doctor prints them there");
        Assert.That(output.ToString(), Does.Contain(
            "cli-host's client bot settings: Relay:Transport=Direct Relay:ServerUrl=<this API's address as cli-host reaches it> Relay:HostToken=<the token above>"));
        Assert.That(output.ToString(), Does.Not.Contain(_key), "never the relay key itself");
        Assert.That(error.ToString(), Does.Contain("nobody"));
        Assert.That(listed.Select(t => (t.GetProperty("name").GetString(), Revoked: t.TryGetProperty("revokedAt", out var at)
                && at.ValueKind == JsonValueKind.String)),
            Is.EquivalentTo(new[] { ("mac-mini", false), ("cli-host", true) }));
        Assert.That(listed.All(t => !t.TryGetProperty("lastUsedAt", out var used) || used.ValueKind == JsonValueKind.Null),
            Is.True, "no host has connected with either");

        await using var scope = api.Services.CreateAsyncScope();
        var audit = await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(50, CancellationToken.None);
        Assert.That(audit.Count(a => a.Command == "host token"), Is.GreaterThanOrEqualTo(3));
        Assert.That(audit.Any(a => a.Command == "host token" && a.Arguments == "name=mac-mini"
            && a.Actor.Contains($"({ApiHost.OperatorName})", StringComparison.Ordinal)), Is.True, "who made it, by the web");
        Assert.That(audit.Any(a => a.Command == "host token" && a.Arguments == "name=sneaky"
            && a.Outcome == AuditOutcome.Refused), Is.True, "a non-admin's attempt is audited as refused");
        Assert.That(audit.Any(a => a.Command == "host token revoke" && a.Arguments!.Contains("cli-host")), Is.True);
        Assert.That(JsonSerializer.Serialize(audit), Does.Not.Contain(token));
        var cliToken = output.ToString().Split(Environment.NewLine)[1].Trim();
        Assert.That(JsonSerializer.Serialize(audit), Does.Not.Contain(cliToken));
    }
}
