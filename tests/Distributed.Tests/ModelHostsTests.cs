using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Distributed.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// Several model hosts across processes: three client bot processes, each a Discord bot of its own on the loopback
/// Discord — two serving "alpha", one "beta" — each in front of an OpenAI-compatible server (one loopback server here,
/// which tells the hosts apart by their API keys). The server bot routes by model and free slots, and a host killed
/// mid-answer hands its request to the other host serving the model.
/// </summary>
[NonParallelizable]
public sealed class ModelHostsTests : ClusterFixture
{
    private static readonly string[] Hosts = ["alpha-1", "alpha-2", "beta-1"];

    private readonly ConcurrentQueue<(string Host, string Model)> _served = new();
    private LoopbackChatServer _upstream = null!;
    private volatile string? _stall;
    private volatile string? _failing;
    private int _refused;
    private readonly ConcurrentQueue<string> _log = new();

    protected override Task<ClusterOptions> StartingAsync()
    {
        _upstream = Own(LoopbackChatServer.Start());
        _upstream.Respond = RespondAsync;
        return Task.FromResult(new ClusterOptions
        {
            ModelHosts = Hosts.Select(host => (IReadOnlyDictionary<string, string>)new Dictionary<string, string>
            {
                ["Inference__Engine"] = "OpenAiCompatible",
                ["Inference__OpenAiCompatible__BaseUrl"] = _upstream.BaseUrl.ToString(),
                ["Inference__OpenAiCompatible__ApiKey"] = "key-" + host,
                ["Inference__OpenAiCompatible__Models__0"] = host.Split('-')[0],
                ["Inference__Parallel"] = "1",
                ["Host__HostName"] = host,
                // A stopped host ends its jobs at once: its requests go back to the queue for another host.
                ["Host__DrainDeadline"] = "00:00:00.200",
                // A failing upstream: one retry, and a breaker that opens after three failed sends, for a short break.
                ["Inference__OpenAiCompatible__Retries"] = "1",
                ["Inference__OpenAiCompatible__BreakAfter"] = "3",
                ["Inference__OpenAiCompatible__BreakForSeconds"] = "3",
            }).ToList(),
            SharedSettings = new Dictionary<string, string>
            {
                ["RateLimits__UserBurst"] = "50",
                ["RateLimits__MaxWaitingCallsPerUser"] = "0",
                // The dispatcher looks for requests of hosts gone quiet when it polls: often, so a killed host's request
                // moves on within seconds (the cluster's default poll is slow on purpose, for its LISTEN/NOTIFY test).
                ["Relay__PollInterval"] = "00:00:01",
                ["Inference__DefaultModel"] = "alpha",
                // Roomier than the cluster's defaults (5 s, 1.5 s): on a loaded CI machine heartbeats came late enough
                // for a busy host to look quiet and a request to time out unacknowledged. These tests are about routing.
                ["Relay__AckTimeout"] = "00:00:20",
                ["Relay__WorkerTimeout"] = "00:00:04",
            },
        });
    }

    [Test, Order(1)]
    public async Task TheModelsList_ShowsEachModelsHostsAndSlots_AndTheStatusNamesTheHostsToAdmins()
    {
        using var user = await ApiUser.SignUpAdminAsync(Cluster); // the hosts' names are for admins

        var models = await user.At(1).GetFromJsonAsync<JsonElement>("api/v1/models");
        var status = await user.At(0).GetFromJsonAsync<JsonElement>("api/v1/status");

        var byName = models.EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);
        Assert.Multiple(() =>
        {
            Assert.That(byName["alpha"].GetProperty("hosts").GetInt32(), Is.EqualTo(2));
            Assert.That(byName["alpha"].GetProperty("slots").GetInt32(), Is.EqualTo(2), "one slot each");
            Assert.That(byName["beta"].GetProperty("hosts").GetInt32(), Is.EqualTo(1));
            Assert.That(status.GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("name").GetString()),
                Is.EquivalentTo(Hosts), "the heartbeats carry the hosts' names");
            Assert.That(status.GetProperty("serverBots").EnumerateArray().Select(b => b.GetString()),
                Has.Exactly(1).Matches<string>(name => name.Contains(" (pid ", StringComparison.Ordinal)),
                "the server bot running, by machine and process, to admins");
        });

        using var member = await ApiUser.SignUpAsync(Cluster.Apis);
        var seen = await member.At(1).GetFromJsonAsync<JsonElement>("api/v1/status");
        Assert.That(seen.GetProperty("serverBots").EnumerateArray().Select(b => b.GetString()),
            Is.EqualTo(new[] { "server bot 1" }), "to others, no machine's name");
    }

    [Test, Order(2)]
    public async Task EachMessageGoesToAHostServingItsModel_BothAlphaHostsTakeAShare_AndAnUnservedModelIsToldAtOnce()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        var alphaChats = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            alphaChats.Add(await user.CreateSessionAsync(at: i % 2, model: "alpha"));
        }

        var betaChat = await user.CreateSessionAsync(at: 0, model: "beta");
        var gammaChat = await user.CreateSessionAsync(at: 1, model: "gamma");
        _served.Clear();

        var answers = await Task.WhenAll(alphaChats.Append(betaChat)
            .Select((chat, i) => user.SendAsync(i % 2, chat, $"question {i}", wait: true)));
        var clock = Stopwatch.StartNew();
        var (gammaStatus, gamma) = await user.SendAsync(1, gammaChat, "for nobody", wait: true);
        var toldAfter = clock.Elapsed;

        Assert.That(answers.Select(a => a.Status), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.Multiple(() =>
        {
            Assert.That(answers.Select(a => a.Body.GetProperty("source").GetString()), Is.All.EqualTo("model"));
            Assert.That(answers[..4].Select(a => a.Body.GetProperty("model").GetString()), Is.All.EqualTo("alpha"));
            Assert.That(answers[4].Body.GetProperty("model").GetString(), Is.EqualTo("beta"));
            Assert.That(answers[4].Body.GetProperty("content").GetString(), Does.Contain("beta-1"), "beta's host wrote it");
            var alphaHosts = _served.Where(s => s.Model == "alpha").Select(s => s.Host).ToList();
            Assert.That(alphaHosts, Has.Count.EqualTo(4).And.All.StartsWith("alpha-"), "alpha's requests went to alpha's hosts only");
            Assert.That(alphaHosts.Distinct().Count(), Is.EqualTo(2), "both alpha hosts took a share (one slot each)");
            Assert.That(gammaStatus, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(gamma.GetProperty("source").GetString(), Is.EqualTo("notice"));
            Assert.That(gamma.GetProperty("content").GetString(), Does.Contain("'gamma'").And.Contain("alpha, beta"));
            Assert.That(toldAfter, Is.LessThan(TimeSpan.FromSeconds(10)), "told at once, not after the ack timeout (20 s)");
        });
        foreach (var chat in alphaChats.Append(betaChat))
        {
            var messages = await user.MessagesAsync(0, chat);
            Assert.That(messages.Count(m => m.GetProperty("role").GetString() == "assistant"), Is.EqualTo(1), "one answer per message");
        }
    }

    [Test, Order(3)]
    public async Task AnUpstreamThatKeepsFailing_OpensItsHostsBreaker_AndItsModelsQuestionsAreAnsweredByTheOtherHost()
    {
        using var admin = await ApiUser.SignUpAdminAsync(Cluster);
        var chats = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            chats.Add(await admin.CreateSessionAsync(at: i % 2, model: "alpha"));
        }

        _served.Clear();
        Interlocked.Exchange(ref _refused, 0);
        _failing = "alpha-1";
        (HttpStatusCode Status, JsonElement Body)[] answers;
        string? told;
        try
        {
            // While its breaker is open, the host says why in its heartbeat. Watched from the first question on: the
            // breaker is open for 3 s at a time (BreakForSeconds), and on a loaded machine the six answers took longer
            // than that after it last opened, so a look taken only after them found it half-open again (a clean-clone
            // CI run at load 25: "Nothing within 20 s").
            var telling = WaitForAsync(async () => (await WorkerAsync(admin, "alpha-1")) is { } host
                                                   && !host.GetProperty("ready").GetBoolean()
                ? host.GetProperty("lastError").GetString()
                : null, TimeSpan.FromSeconds(60));
            answers = await Task.WhenAll(chats.Select((chat, i) =>
                admin.SendAsync(i % 2, chat, $"through a bad minute {i}", wait: true)));
            told = await telling;
        }
        finally
        {
            _failing = null;
        }

        Assert.Multiple(() =>
        {
            Assert.That(Volatile.Read(ref _refused), Is.Positive, "alpha-1's upstream was tried and failed");
            Assert.That(answers.Select(a => a.Status), Is.All.EqualTo(HttpStatusCode.OK));
            Assert.That(answers.Select(a => a.Body.GetProperty("source").GetString()), Is.All.EqualTo("model"),
                "no notice while another host of the model answers");
            Assert.That(answers.Select(a => a.Body.GetProperty("content").GetString()), Is.All.Contain("alpha-2"));
            Assert.That(told, Does.Contain("circuit breaker open"));
        });

        // After the break one request tries the upstream again; well again, the host takes its share once more.
        await WaitForAsync(async () => (await WorkerAsync(admin, "alpha-1"))?.GetProperty("ready").GetBoolean() == true
            ? "ready" : null, TimeSpan.FromSeconds(30));
    }

    private static async Task<JsonElement?> WorkerAsync(ApiUser admin, string name) =>
        (await admin.At(0).GetFromJsonAsync<JsonElement>("api/v1/status")).GetProperty("workers").EnumerateArray()
        .Where(w => w.GetProperty("name").GetString() == name).Select(w => (JsonElement?)w).FirstOrDefault();

    [Test, Order(4)]
    public async Task AHostKilledMidAnswer_ItsRequestIsAnsweredByTheOtherHostOfItsModel_AndStoredOnce()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        var chat = await user.CreateSessionAsync(at: 0, model: "alpha");
        _served.Clear();
        // Whichever alpha host takes it first stalls mid-answer; that host is then killed.
        _stall = "alpha";

        var (status, sent) = await user.SendAsync(0, chat, "survive the kill");
        Assert.That(status, Is.EqualTo(HttpStatusCode.Accepted));
        var requestId = sent.GetProperty("requestId").GetGuid();
        var first = await WaitForAsync(() => _served.FirstOrDefault(s => s.Model == "alpha").Host, TimeSpan.FromSeconds(30));
        _stall = null;
        var victim = Cluster.ModelHostProcesses[Array.IndexOf(Hosts, first)];
        _log.Enqueue($"{DateTime.UtcNow:mm:ss.fff} kill {first}");
        await victim.KillAsync();
        var clock = Stopwatch.StartNew();

        var answer = (await WaitForAsync(async () =>
        {
            var messages = await user.MessagesAsync(1, chat);
            return messages.Where(m => m.GetProperty("role").GetString() == "assistant").Take(1).ToArray() is [_] found ? found : null;
        }, TimeSpan.FromSeconds(60)))[0];

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)),
            $"moved on once the host went quiet (4 s), not when its dispatch lease or the completion timeout (30 s) ran out; {string.Join(", ", _log)}");
        var other = Hosts.Single(h => h.StartsWith("alpha-", StringComparison.Ordinal) && h != first);
        Assert.Multiple(() =>
        {
            Assert.That(answer.GetProperty("source").GetString(), Is.EqualTo("model"));
            Assert.That(answer.GetProperty("content").GetString(), Does.Contain(other), "the other alpha host answered");
            Assert.That(_served.Select(s => s.Host), Does.Contain(other));
        });
        await Task.Delay(TimeSpan.FromSeconds(2));
        var all = await user.MessagesAsync(0, chat);
        Assert.That(all.Count(m => m.GetProperty("role").GetString() == "assistant"), Is.EqualTo(1), "stored once");
        Assert.That(await Cluster.QueryAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE id = @Id AND status = 'completed'",
            new { Id = requestId }), Is.EqualTo(1));
    }

    [Test, Order(5)]
    public async Task ToolRunner_ThroughTheRelay_CallsTheFunction_AndAnswersFromItsResult()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        using var created = await user.At(0).PostAsJsonAsync("api/v1/auth/api-keys", new { name = "agent" });
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;

        // The official SDK's tool runner, streamed, against the second API instance: the tools, the call and the
        // result travel in the encrypted envelopes over the loopback Discord to beta's host and its upstream.
        var seen = await MeatLizard.Api.Tests.Support.OpenAiSdkClient.RunAsync("tools", Cluster.Apis[1], key,
            environment: new Dictionary<string, string> { ["STREAM"] = "1", ["MODEL"] = "beta" });

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(seen.GetProperty("content").GetString(), Is.EqualTo("In Oslo the sky is clear (beta-1)."));
            Assert.That(seen.GetProperty("calls").EnumerateArray().Select(c => c.GetProperty("city").GetString()),
                Is.EqualTo(new[] { "Oslo" }));
            Assert.That(seen.GetProperty("finishes").EnumerateArray().Select(f => f.GetString()),
                Is.EqualTo(new[] { "tool_calls", "stop" }));
        });
    }

    /// <summary>
    /// A request with tools: asked a question, the model calls <c>get_weather</c>; given the result, it answers from it
    /// (naming the host that answered).
    /// </summary>
    private static async Task RespondWithToolsAsync(LoopbackChatServer.Exchange exchange, string host)
    {
        var last = exchange.Json["messages"]!.AsArray()[^1]!;
        if (last["role"]!.GetValue<string>() == "tool")
        {
            var result = System.Text.Json.Nodes.JsonNode.Parse(last["content"]!.GetValue<string>())!;
            await exchange.WriteStreamAsync([LoopbackChatServer.Chunk($"In {result["city"]} the sky is {result["sky"]} ({host}).", finish: "stop"),
                LoopbackChatServer.Usage(20, 8)]);
            return;
        }

        await exchange.WriteStreamAsync([LoopbackChatServer.ToolCallChunk(0, "call_oslo", "get_weather", """{"city":"Oslo"}""", finish: "tool_calls"),
            LoopbackChatServer.Usage(20, 6)]);
    }

    private async Task RespondAsync(LoopbackChatServer.Exchange exchange)
    {
        var host = exchange.Header("authorization") is { } auth && auth.StartsWith("Bearer key-", StringComparison.Ordinal)
            ? auth["Bearer key-".Length..]
            : "?";
        if (exchange.Path == "/v1/models")
        {
            await exchange.WriteJsonAsync(200, $$"""{"object":"list","data":[{"id":"{{host.Split('-')[0]}}","object":"model","created":0,"owned_by":"test"}]}""");
            return;
        }

        if (host == _failing)
        {
            Interlocked.Increment(ref _refused);
            await exchange.WriteJsonAsync(503, """{"error":{"message":"overloaded"}}""");
            return;
        }

        var model = exchange.Json["model"]?.GetValue<string>() ?? "?";
        _served.Enqueue((host, model));
        _log.Enqueue($"{DateTime.UtcNow:mm:ss.fff} {host} {model}");
        if (exchange.Json["tools"] is not null)
        {
            await RespondWithToolsAsync(exchange, host);
            return;
        }

        if (_stall is { } stalled && model == stalled)
        {
            await exchange.WriteStreamHeadAsync();
            await exchange.WriteEventAsync(LoopbackChatServer.Chunk("Partial answer"));
            // Held open until the host is killed and drops the connection.
            await exchange.ClientClosedAsync(TimeSpan.FromSeconds(60));
            return;
        }

        // Long enough that the four alpha questions sent together find both alpha hosts' single slots taken.
        await Task.Delay(TimeSpan.FromMilliseconds(400));
        await exchange.WriteStreamAsync([LoopbackChatServer.Chunk($"Answer from {host}"),
            LoopbackChatServer.Chunk(".", finish: "stop"), LoopbackChatServer.Usage(5, 3)]);
    }

    private static async Task<T> WaitForAsync<T>(Func<T?> probe, TimeSpan within) =>
        await WaitForAsync(() => Task.FromResult(probe()), within);

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Nothing within {within.TotalSeconds} s.");
            }

            await Task.Delay(100);
        }
    }
}
