using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using MeatLizard.Infrastructure.Inference.OpenAiCompatible;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using NUnit.Framework;
using static MeatLizard.TestKit.LoopbackChatServer;

namespace MeatLizard.Infrastructure.Tests.Inference.OpenAiCompatible;

/// <summary>
/// The circuit breaker: an upstream that keeps failing gets no more requests for a while — each fails at once as
/// unavailable, so the server asks another host — and the host's health says so and why; after the break one request
/// tries the upstream again, and its answer closes the breaker (or its failure opens it again).
/// </summary>
public sealed partial class OpenAiCompatibleEngineTests
{
    private const string Overloaded = """{"error":{"message":"overloaded"}}""";

    [Test]
    public async Task RepeatedFailures_OpenTheBreaker_TheHostSaysItIsUnavailable_AndRequestsFailAtOnceWithoutASend()
    {
        await using var server = Failing(503);
        var time = new ManualClock();
        var logs = new RecordingLogger();
        using var engine = BreakerEngine(server.BaseUrl, time, logs);

        for (var i = 0; i < 3; i++)
        {
            Assert.That((await engine.CheckHealthAsync(CancellationToken.None)).Ready, Is.True, $"not open after {i} failures");
            var failed = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));
            Assert.That(failed!.Unavailable, Is.True, "nothing was answered: another host may answer it");
        }

        var health = await engine.CheckHealthAsync(CancellationToken.None);
        var broken = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.Multiple(() =>
        {
            Assert.That(health.Ready, Is.False, "the heartbeat tells the server to send its models' questions elsewhere");
            Assert.That(health.Detail, Does.Contain("circuit breaker open").And.Contain("until 00:00:10 UTC"));
            Assert.That(broken!.Unavailable, Is.True);
            Assert.That(broken.Message, Does.Contain("circuit breaker open"));
            Assert.That(server.Completions.Count(), Is.EqualTo(3), "the open breaker sends nothing");
            Assert.That(server.Exchanges.Count(e => e.Path == "/v1/models"), Is.EqualTo(3), "an open breaker's health asks nothing");
            Assert.That(logs.Text, Does.Contain("circuit breaker is open for 10 s"));
        });
    }

    [Test]
    public async Task AfterTheBreak_OneRequestTriesTheUpstream_ItsAnswerClosesTheBreaker()
    {
        await using var server = Start();
        var normal = server.Respond;
        var failing = true;
        server.Respond = exchange => failing && exchange.Path != "/v1/models"
            ? exchange.WriteJsonAsync(503, Overloaded)
            : normal(exchange);
        var time = new ManualClock();
        using var engine = BreakerEngine(server.BaseUrl, time);
        for (var i = 0; i < 3; i++)
        {
            Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));
        }

        time.Advance(TimeSpan.FromSeconds(10));
        failing = false;
        var ready = await engine.CheckHealthAsync(CancellationToken.None);
        var (text, _, _) = await CollectAsync(engine, Request("tiny"));

        Assert.Multiple(async () =>
        {
            Assert.That(ready.Ready, Is.True, "after the break the host takes a request again, to try the upstream");
            Assert.That(text, Is.Not.Empty);
            Assert.That((await engine.CheckHealthAsync(CancellationToken.None)).Ready, Is.True);
            Assert.That(server.Completions.Count(), Is.EqualTo(4));
        });
    }

    [Test]
    public async Task TheBreakersOpening_AndItsBreaksEnd_AreToldAtOnce_SoTheHostSendsItsHeartbeatThen()
    {
        await using var server = Failing(503);
        var configuration = Configuration(server.BaseUrl, null, ("Inference:OpenAiCompatible:Retries", "0"),
            ("Inference:OpenAiCompatible:BreakAfter", "2"), ("Inference:OpenAiCompatible:BreakForSeconds", "0.5"));
        using var engine = new OpenAiCompatibleEngine(OpenAiCompatibleOptions.Read(configuration),
            LlamaCppOptions.Read(configuration), new RecordingLogger());
        var changes = new System.Collections.Concurrent.ConcurrentQueue<bool>();
        var breakEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ((IEngineHealthChanges)engine).HealthChanged += () =>
        {
            // What the heartbeat sent then would say; an open breaker's health asks the upstream nothing.
            var ready = engine.CheckHealthAsync(CancellationToken.None).GetAwaiter().GetResult().Ready;
            changes.Enqueue(ready);
            if (ready)
            {
                breakEnded.TrySetResult();
            }
        };

        for (var i = 0; i < 2; i++)
        {
            Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));
        }

        Assert.That(changes, Is.EqualTo(new[] { false }), "told as it opened: the host is not ready");
        Assert.That(await Task.WhenAny(breakEnded.Task, Task.Delay(TimeSpan.FromSeconds(10))), Is.SameAs(breakEnded.Task),
            "told when the break ended: the host offers its models again, for one request to try the upstream");
        Assert.That(changes, Is.EqualTo(new[] { false, true }));
    }

    [Test]
    public async Task AfterTheBreak_AFailedTryOpensTheBreakerAgain()
    {
        await using var server = Failing(502);
        var time = new ManualClock();
        using var engine = BreakerEngine(server.BaseUrl, time);
        for (var i = 0; i < 3; i++)
        {
            Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));
        }

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));
        var health = await engine.CheckHealthAsync(CancellationToken.None);

        Assert.That(server.Completions.Count(), Is.EqualTo(4), "one try after the break");
        Assert.That(health.Ready, Is.False, "the try failed: open again");
    }

    [Test]
    public async Task AFailureAfterTheFirstWords_IsNotUnavailable_AnotherHostWouldStartTheAnswerOver()
    {
        await using var server = Start();
        server.Respond = async exchange =>
        {
            await exchange.WriteStreamHeadAsync();
            await exchange.WriteEventAsync(Chunk("Hello"));
            exchange.Drop();
        };
        using var engine = BreakerEngine(server.BaseUrl, new ManualClock());

        var failed = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(failed!.Unavailable, Is.False);
    }

    [Test]
    public void AnUnreachableUpstream_IsUnavailable()
    {
        using var engine = BreakerEngine(new Uri($"http://127.0.0.1:{ClosedLoopbackPort()}/v1"), new ManualClock());

        var failed = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(failed!.Unavailable, Is.True);
    }

    [TestCase("BreakAfter", "-1", "Inference:OpenAiCompatible:BreakAfter must be a whole number from 0")]
    [TestCase("BreakAfter", "many", "Inference:OpenAiCompatible:BreakAfter must be a whole number from 0")]
    [TestCase("BreakForSeconds", "0.1", "Inference:OpenAiCompatible:BreakForSeconds must be a number of seconds from 0.5")]
    [TestCase("BreakForSeconds", "soon", "Inference:OpenAiCompatible:BreakForSeconds must be a number of seconds from 0.5")]
    public void BreakerSettings_OutOfRange_StopTheHostNamingTheSetting(string key, string value, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => OpenAiCompatibleOptions.Read(
            Configuration(new Uri("http://127.0.0.1:1/v1"), null, ($"Inference:OpenAiCompatible:{key}", value))));

        Assert.That(error!.Message, Does.StartWith(expected));
    }

    [Test]
    public async Task BreakAfterZero_NeverOpens()
    {
        await using var server = Failing(503);
        var configuration = Configuration(server.BaseUrl, null, ("Inference:OpenAiCompatible:Retries", "0"),
            ("Inference:OpenAiCompatible:BreakAfter", "0"));
        using var engine = new OpenAiCompatibleEngine(OpenAiCompatibleOptions.Read(configuration),
            LlamaCppOptions.Read(configuration), new RecordingLogger(), new ManualClock());

        for (var i = 0; i < 8; i++)
        {
            Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));
        }

        Assert.That(server.Completions.Count(), Is.EqualTo(8), "every request sent");
    }

    /// <summary>A server whose models list answers and whose completions fail with <paramref name="status"/>.</summary>
    private static MeatLizard.TestKit.LoopbackChatServer Failing(int status)
    {
        var server = Start();
        server.Respond = exchange => exchange.Path == "/v1/models"
            ? exchange.WriteJsonAsync(200, """{"object":"list","data":[]}""")
            : exchange.WriteJsonAsync(status, Overloaded);
        return server;
    }

    /// <summary>No retries (each request is one send), a breaker that opens after 3 sends for 10 s, on <paramref name="time"/>.</summary>
    private static OpenAiCompatibleEngine BreakerEngine(Uri baseUrl, ManualClock time, RecordingLogger? logs = null)
    {
        var configuration = Configuration(baseUrl, null, ("Inference:OpenAiCompatible:Retries", "0"),
            ("Inference:OpenAiCompatible:BreakAfter", "3"), ("Inference:OpenAiCompatible:BreakForSeconds", "10"));
        return new OpenAiCompatibleEngine(OpenAiCompatibleOptions.Read(configuration), LlamaCppOptions.Read(configuration),
            logs ?? new RecordingLogger(), time);
    }
}
