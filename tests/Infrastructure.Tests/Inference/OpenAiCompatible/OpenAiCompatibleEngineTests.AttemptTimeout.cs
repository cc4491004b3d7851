using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.OpenAiCompatible;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using NUnit.Framework;
using static MeatLizard.TestKit.LoopbackChatServer;

namespace MeatLizard.Infrastructure.Tests.Inference.OpenAiCompatible;

/// <summary>
/// The per-attempt timeout: a send the upstream took and then left without a word (hung, or stopped before the first
/// token) is given up on after Inference:OpenAiCompatible:AttemptTimeoutSeconds and sent again within the request's
/// time, rather than eating all of it; once the first words came, the answer is never sent again.
/// </summary>
public sealed partial class OpenAiCompatibleEngineTests
{
    // OpenAI's first chunk: the role, and no text yet.
    private const string RoleChunk =
        """{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"upstream","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""";

    [Test]
    public async Task ASendTheUpstreamLeavesWithoutAWord_IsGivenUpOnAfterTheAttemptTimeout_AndTheNextSendAnswers()
    {
        await using var server = Start();
        var normal = server.Respond;
        var calls = 0;
        var firstClosed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Respond = async exchange =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                // Takes the request and says nothing, not even the response's head.
                firstClosed.TrySetResult(await exchange.ClientClosedAsync(TimeSpan.FromSeconds(30)));
                return;
            }

            await normal(exchange);
        };
        var logs = new RecordingLogger();
        using var engine = Engine(server.BaseUrl, logs, settings:
            [("Inference:OpenAiCompatible:AttemptTimeoutSeconds", "0.5"), ("Inference:TimeoutSeconds", "20")]);

        var (text, _, completed) = await CollectAsync(engine, Request("tiny"));

        Assert.That(text, Is.EqualTo("Hello there"));
        Assert.That(completed.FinishReason, Is.EqualTo("stop"));
        Assert.That(server.Completions.Count(), Is.EqualTo(2));
        Assert.That(await firstClosed.Task.WaitAsync(TimeSpan.FromSeconds(30)), Is.True,
            "the silent send's connection was closed, which tells the server to stop");
        Assert.That(logs.Text, Does.Contain("refused it for now (nothing within 0.5 s); sending it again in"));
    }

    [Test]
    public async Task ASendThatStopsBeforeTheFirstToken_IsSentAgain_AndOnlyTheSecondAnswerIsPassedOn()
    {
        await using var server = Start();
        var normal = server.Respond;
        var calls = 0;
        server.Respond = async exchange =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                // The head and the role's chunk, then silence: a server stuck before its first token.
                await exchange.WriteStreamHeadAsync();
                await exchange.WriteEventAsync(RoleChunk);
                await exchange.ClientClosedAsync(TimeSpan.FromSeconds(30));
                return;
            }

            await normal(exchange);
        };
        using var engine = Engine(server.BaseUrl, settings:
            [("Inference:OpenAiCompatible:AttemptTimeoutSeconds", "0.5"), ("Inference:TimeoutSeconds", "20")]);

        var (text, deltas, _) = await CollectAsync(engine, Request("tiny"));

        Assert.That(text, Is.EqualTo("Hello there"));
        Assert.That(deltas, Is.EqualTo(2));
        Assert.That(server.Completions.Count(), Is.EqualTo(2));
    }

    [Test]
    public async Task AnAnswerThatFallsSilentAfterItsFirstWords_IsNotSentAgain_AndEndsAtTheRequestsTimeout()
    {
        await using var server = Start();
        server.Respond = async exchange =>
        {
            await exchange.WriteStreamHeadAsync();
            await exchange.WriteEventAsync(Chunk("first words"));
            await exchange.ClientClosedAsync(TimeSpan.FromSeconds(30));
        };
        using var engine = Engine(server.BaseUrl, settings:
            [("Inference:OpenAiCompatible:AttemptTimeoutSeconds", "0.2"), ("Inference:TimeoutSeconds", "1.5")]);

        var seen = new List<string>();
        var error = Assert.ThrowsAsync<InferenceFailedException>(async () =>
        {
            await foreach (var update in engine.GenerateAsync(Request("tiny"), CancellationToken.None))
            {
                seen.Add(((InferenceDelta)update).Text);
            }
        });

        Assert.That(seen, Is.EqualTo(new[] { "first words" }));
        Assert.That(error!.Message, Does.EndWith("did not finish within Inference:TimeoutSeconds (1.5 s)."));
        Assert.That(error.Unavailable, Is.False, "asked elsewhere, the answer would start over");
        Assert.That(server.Completions.Count(), Is.EqualTo(1), "what was said is not said twice");
    }

    [Test]
    public async Task AToolCallWrittenSlowerThanTheAttemptTimeout_IsOneSend_ItsAnswerBeganWithItsFirstPiece()
    {
        await using var server = Start();
        server.Respond = async exchange =>
        {
            // An answer of tool calls only: nothing to pass on until it ends, but it began with its first piece.
            await exchange.WriteStreamHeadAsync();
            await exchange.WriteEventAsync(RoleChunk);
            foreach (var piece in new[]
                     {
                         ToolCallChunk(0, "call_a", "get_weather", ""), ToolCallChunk(0, null, null, """{"city":"""),
                         ToolCallChunk(0, null, null, "\"Paris\"}", finish: "tool_calls"),
                     })
            {
                await exchange.WriteEventAsync(piece);
                await Task.Delay(TimeSpan.FromSeconds(0.4));
            }

            await exchange.WriteEventAsync("[DONE]");
            await exchange.EndBodyAsync();
        };
        using var engine = Engine(server.BaseUrl, settings:
            [("Inference:OpenAiCompatible:AttemptTimeoutSeconds", "0.5"), ("Inference:TimeoutSeconds", "20")]);
        var request = Request("tiny") with { Extras = new GenerationExtras(Tools: Tools) };

        var (_, _, completed) = await CollectAsync(engine, request);

        Assert.That(completed.ToolCalls!.Select(c => (c.Name, c.Arguments)),
            Is.EqualTo(new[] { ("get_weather", """{"city":"Paris"}""") }));
        Assert.That(server.Completions.Count(), Is.EqualTo(1), "the call being written was not given up on");
    }

    [Test]
    public async Task AnUpstreamThatKeepsLeavingSendsWithoutAWord_IsUnavailable_AndOpensTheBreaker()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.Path == "/v1/models"
            ? exchange.WriteJsonAsync(200, """{"object":"list","data":[]}""")
            : exchange.ClientClosedAsync(TimeSpan.FromSeconds(30));
        var configuration = Configuration(server.BaseUrl, null, ("Inference:OpenAiCompatible:Retries", "0"),
            ("Inference:OpenAiCompatible:BreakAfter", "3"), ("Inference:OpenAiCompatible:BreakForSeconds", "10"),
            ("Inference:OpenAiCompatible:AttemptTimeoutSeconds", "0.3"), ("Inference:TimeoutSeconds", "20"));
        using var engine = new OpenAiCompatibleEngine(OpenAiCompatibleOptions.Read(configuration),
            Infrastructure.Inference.LlamaCpp.LlamaCppOptions.Read(configuration), new RecordingLogger(), new ManualClock());
        var started = Stopwatch.StartNew();

        var failures = new List<InferenceFailedException>();
        for (var i = 0; i < 3; i++)
        {
            failures.Add(Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")))!);
        }

        var health = await engine.CheckHealthAsync(CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(failures.Select(f => f.Unavailable), Is.All.True, "nothing was answered: another host may answer it");
            Assert.That(failures[0].Message,
                Does.EndWith("did not begin its answer within Inference:OpenAiCompatible:AttemptTimeoutSeconds (0.3 s)."));
            Assert.That(started.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "not one of them waited for the request's timeout");
            Assert.That(health.Ready, Is.False, "the silent sends count as failures: the breaker is open");
            Assert.That(health.Detail, Does.Contain("circuit breaker open"));
        });
    }

    [TestCase("0")]
    [TestCase("0.05")]
    [TestCase("3601")]
    [TestCase("a minute")]
    public void AttemptTimeoutSeconds_OutOfRange_StopsTheHostNamingTheSetting(string value)
    {
        var error = Assert.Throws<MeatLizard.Infrastructure.ConfigurationException>(() => OpenAiCompatibleOptions.Read(
            Configuration(new Uri("http://127.0.0.1:1/v1"), null, ("Inference:OpenAiCompatible:AttemptTimeoutSeconds", value))));

        Assert.That(error!.Message, Is.EqualTo(
            "Inference:OpenAiCompatible:AttemptTimeoutSeconds must be a number of seconds from 0.1 to 3600, e.g. 60."));
    }

    [Test]
    public void AttemptTimeoutSeconds_Unset_IsAMinute()
    {
        var options = OpenAiCompatibleOptions.Read(Configuration(new Uri("http://127.0.0.1:1/v1"), null));

        Assert.That(options.AttemptTimeout, Is.EqualTo(TimeSpan.FromSeconds(60)));
    }
}
