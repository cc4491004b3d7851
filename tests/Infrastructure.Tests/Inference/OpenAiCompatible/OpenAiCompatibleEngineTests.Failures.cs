using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using MeatLizard.Infrastructure.Inference.OpenAiCompatible;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using NUnit.Framework;
using static MeatLizard.TestKit.LoopbackChatServer;

namespace MeatLizard.Infrastructure.Tests.Inference.OpenAiCompatible;

/// <summary>What a user is told when the upstream refuses, breaks the stream, drops the connection, never answers or does not stop when asked.</summary>
public sealed partial class OpenAiCompatibleEngineTests
{
    [Test]
    public async Task Upstream401_FailsWithTheServersMessage_WithoutTheKey_AndHealthSaysSo()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(401,
            $$$"""{"error":{"message":"Incorrect API key provided: {{{ApiKey}}}","type":"invalid_request_error","code":"invalid_api_key"}}""");
        var logs = new RecordingLogger();
        using var engine = Engine(server.BaseUrl, logs);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));
        var health = await engine.CheckHealthAsync(CancellationToken.None);

        var expected = $"OpenAI-compatible server at {server.BaseUrl.GetLeftPart(UriPartial.Authority)} answered 401: Incorrect API key provided: ***";
        Assert.That(error!.Message, Is.EqualTo(expected));
        Assert.That(health.Ready, Is.False);
        Assert.That(health.Loading, Is.False);
        Assert.That(health.Detail, Is.EqualTo(expected));
        Assert.That(logs.Text, Does.Not.Contain(ApiKey));
    }

    private const string Busy = """{"error":{"message":"Rate limit reached, try again later","type":"rate_limit_error"}}""";

    [Test]
    public async Task Upstream429WithRetryAfter_IsSentAgainAfterThePauseItAskedFor_AndAnswered()
    {
        await using var server = Start();
        var calls = 0;
        var normal = server.Respond;
        server.Respond = exchange => Interlocked.Increment(ref calls) == 1
            ? exchange.WriteJsonAsync(429, Busy, retryAfter: "1")
            : normal(exchange);
        var logs = new RecordingLogger();
        using var engine = Engine(server.BaseUrl, logs);
        var started = Stopwatch.StartNew();

        var (text, _, completed) = await CollectAsync(engine, Request("tiny"));

        Assert.That(text, Is.Not.Empty);
        Assert.That(completed, Is.Not.Null);
        Assert.That(server.Completions.Count(), Is.EqualTo(2));
        Assert.That(started.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.9)), "Retry-After: 1 was honoured");
        Assert.That(logs.Text, Does.Contain("refused it for now (429); sending it again in 1000 ms (attempt 1)"));
    }

    [Test]
    public async Task Upstream503WithRetryAfterAsADate_IsSentAgainWhenThatTimeComes_AndAnswered()
    {
        await using var server = Start();
        var calls = 0;
        var normal = server.Respond;
        // HTTP dates have whole seconds: 3 s ahead is a wait of 2-3 s.
        var date = DateTimeOffset.UtcNow.AddSeconds(3).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        server.Respond = exchange => Interlocked.Increment(ref calls) == 1
            ? exchange.WriteJsonAsync(503, """{"error":{"message":"overloaded","type":"server_error"}}""", retryAfter: date)
            : normal(exchange);
        using var engine = Engine(server.BaseUrl);
        var started = Stopwatch.StartNew();

        var (text, _, completed) = await CollectAsync(engine, Request("tiny"));

        Assert.That(text, Is.Not.Empty);
        Assert.That(completed, Is.Not.Null);
        Assert.That(server.Completions.Count(), Is.EqualTo(2));
        Assert.That(started.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1.5)), "the date was waited for");
        Assert.That(started.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "not the exponential back-off's own pause");
    }

    [TestCase(503)]
    [TestCase(502)]
    public async Task AServerErrorThatLasts_IsTriedRetriesTimesMore_ThenFailsWithTheServersMessage(int status)
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(status, """{"error":{"message":"overloaded"}}""");
        using var engine = Engine(server.BaseUrl, settings: [("Inference:OpenAiCompatible:Retries", "2")]);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(error!.Message, Does.EndWith($"answered {status}: overloaded"));
        Assert.That(server.Completions.Count(), Is.EqualTo(3), "the first and two more");
    }

    [Test]
    public async Task ARetryAfterPastTheRequestsDeadline_IsNotWaitedFor()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(429, Busy, retryAfter: "3600");
        using var engine = Engine(server.BaseUrl);
        var started = Stopwatch.StartNew();

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(error!.Message, Does.EndWith("answered 429: Rate limit reached, try again later"));
        Assert.That(server.Completions.Count(), Is.EqualTo(1));
        Assert.That(started.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "failed at once, not at the deadline");
    }

    [TestCase(400)]
    [TestCase(401)]
    public async Task ARefusalThatWillNotPass_IsNotSentAgain(int status)
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(status, """{"error":{"message":"no"}}""");
        using var engine = Engine(server.BaseUrl);

        Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(server.Completions.Count(), Is.EqualTo(1));
    }

    [Test]
    public async Task AnAnswerThatBreaksAfterItsFirstWords_IsNotSentAgain()
    {
        await using var server = Start();
        server.Respond = async exchange =>
        {
            await exchange.WriteStreamHeadAsync();
            await exchange.WriteEventAsync(Chunk("first words"));
            exchange.Drop();
        };
        using var engine = Engine(server.BaseUrl);

        Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(server.Completions.Count(), Is.EqualTo(1), "what was said is not said twice");
    }

    [Test]
    public void Retries_OutOfRange_StopsTheHostNamingTheSetting()
    {
        var error = Assert.Throws<MeatLizard.Infrastructure.ConfigurationException>(() =>
            Engine(new Uri("http://127.0.0.1:1/v1"), settings: [("Inference:OpenAiCompatible:Retries", "11")]));

        Assert.That(error!.Message, Does.StartWith("Inference:OpenAiCompatible:Retries must be"));
    }

    [Test]
    public async Task Upstream404ForAnUnknownModel_PassesTheServersMessageOn()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(404,
            """{"error":{"message":"model \"upstream/tiny:q4\" not found, try pulling it first","type":"api_error"}}""");
        using var engine = Engine(server.BaseUrl);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(error!.Message, Does.EndWith("answered 404: model \"upstream/tiny:q4\" not found, try pulling it first"));
    }

    [Test]
    public async Task MalformedEvents_FailWithoutRepeatingThem()
    {
        await using var server = Start();
        server.Respond = async exchange =>
        {
            await exchange.WriteStreamHeadAsync();
            await exchange.WriteEventAsync(Chunk("fine"));
            await exchange.WriteEventAsync("{\"choices\":[{\"delta\":{\"content\":\"private words");
            await exchange.WriteEventAsync("[DONE]");
            await exchange.EndBodyAsync();
        };
        using var engine = Engine(server.BaseUrl);

        var seen = new List<string>();
        var error = Assert.ThrowsAsync<InferenceFailedException>(async () =>
        {
            await foreach (var update in engine.GenerateAsync(Request("tiny"), CancellationToken.None))
            {
                seen.Add(((InferenceDelta)update).Text);
            }
        });

        Assert.That(seen, Is.EqualTo(new[] { "fine" }));
        Assert.That(error!.Message, Does.EndWith("sent a stream that is not server-sent chat chunks (bad JSON)."));
        Assert.That(error.Message, Does.Not.Contain("private words"));
    }

    [Test]
    public async Task AnErrorEventMidStream_FailsWithItsMessage()
    {
        await using var server = Start();
        server.Respond = async exchange =>
        {
            await exchange.WriteStreamHeadAsync();
            await exchange.WriteEventAsync(Chunk("partly"));
            await exchange.WriteEventAsync("""{"error":{"message":"the model ran out of memory","code":500}}""");
            await exchange.EndBodyAsync();
        };
        using var engine = Engine(server.BaseUrl);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(error!.Message, Does.EndWith(": the model ran out of memory"));
    }

    [Test]
    public async Task ConnectionDroppedMidStream_FailsAfterTheTextAlreadyStreamed()
    {
        await using var server = Start();
        server.Respond = async exchange =>
        {
            await exchange.WriteStreamHeadAsync();
            await exchange.WriteEventAsync(Chunk("one"));
            await exchange.WriteEventAsync(Chunk(" two"));
            await Task.Delay(100);
            exchange.Drop();
        };
        using var engine = Engine(server.BaseUrl);

        var seen = new List<string>();
        var error = Assert.ThrowsAsync<InferenceFailedException>(async () =>
        {
            await foreach (var update in engine.GenerateAsync(Request("tiny"), CancellationToken.None))
            {
                seen.Add(((InferenceDelta)update).Text);
            }
        });

        Assert.That(seen, Is.EqualTo(new[] { "one", " two" }));
        Assert.That(error!.Message, Does.StartWith("The connection to the OpenAI-compatible server at ").And.EndWith(" broke while it was answering."));
    }

    [Test]
    public async Task AStreamThatEndsCleanlyBeforeTheAnswerDoes_IsNotTakenForAWholeAnswer()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteStreamAsync([Chunk("half an")], done: false);
        using var engine = Engine(server.BaseUrl);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(error!.Message, Does.EndWith("ended the stream before the answer was finished."));
    }

    [Test]
    public async Task AStreamWithAFinishReasonButNoDone_IsComplete()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteStreamAsync([Chunk("all of it", finish: "length")], done: false);
        using var engine = Engine(server.BaseUrl);

        var (text, _, completed) = await CollectAsync(engine, Request("tiny"));

        Assert.That(text, Is.EqualTo("all of it"));
        Assert.That(completed.FinishReason, Is.EqualTo("length"));
        Assert.That(completed.CompletionTokens, Is.EqualTo(1), "without usage, the deltas are counted");
    }

    [Test]
    public async Task Cancel_MidStream_ClosesTheConnection_EvenWhenTheServerKeepsSending()
    {
        await using var server = Start();
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Respond = async exchange =>
        {
            await exchange.WriteStreamHeadAsync(keepAlive: true);
            var watching = exchange.ClientClosedAsync(TimeSpan.FromSeconds(30));
            try
            {
                // Ignores the cancel: keeps generating until the socket refuses.
                for (var i = 0; i < 600 && !watching.IsCompleted; i++)
                {
                    await exchange.WriteEventAsync(Chunk($" word{i}"));
                    await Task.Delay(50);
                }
            }
            finally
            {
                closed.TrySetResult(await watching);
            }
        };
        using var engine = Engine(server.BaseUrl);
        using var cancellation = new CancellationTokenSource();
        var seen = 0;
        var cancelledAt = Stopwatch.StartNew();

        Assert.CatchAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in engine.GenerateAsync(Request("tiny"), cancellation.Token))
            {
                if (update is InferenceDelta && ++seen == 3)
                {
                    cancelledAt.Restart();
                    await cancellation.CancelAsync();
                }
            }
        });

        Assert.That(cancelledAt.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "the engine waited for the server after the cancel");
        Assert.That(await closed.Task.WaitAsync(TimeSpan.FromSeconds(30)), Is.True, "the connection stayed open after the cancel");
        Assert.That(cancelledAt.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "the connection closed only long after the cancel");
    }

    [Test]
    public async Task LeavingTheStreamUnread_ClosesTheConnection_RatherThanReadingItToItsEnd()
    {
        await using var server = Start();
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Respond = async exchange =>
        {
            await exchange.WriteStreamHeadAsync(keepAlive: true);
            var watching = exchange.ClientClosedAsync(TimeSpan.FromSeconds(30));
            try
            {
                for (var i = 0; i < 600 && !watching.IsCompleted; i++)
                {
                    await exchange.WriteEventAsync(Chunk($" word{i}"));
                    await Task.Delay(50);
                }
            }
            finally
            {
                closed.TrySetResult(await watching);
            }
        };
        using var engine = Engine(server.BaseUrl);
        var left = Stopwatch.StartNew();

        await foreach (var update in engine.GenerateAsync(Request("tiny"), CancellationToken.None))
        {
            left.Restart();
            break;
        }

        Assert.That(await closed.Task.WaitAsync(TimeSpan.FromSeconds(30)), Is.True, "the connection stayed open");
        Assert.That(left.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)),
            "the connection was kept reading the abandoned answer (to reuse it) while the server went on generating");
    }

    [Test]
    public async Task Cancel_BeforeTheServerAnswersAtAll_EndsAtOnce_AndClosesTheConnection()
    {
        await using var server = Start();
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Respond = async exchange =>
        {
            received.TrySetResult();
            closed.TrySetResult(await exchange.ClientClosedAsync(TimeSpan.FromSeconds(30)));
        };
        using var engine = Engine(server.BaseUrl);
        using var cancellation = new CancellationTokenSource();

        var generating = CollectAsync(engine, Request("tiny"), cancellation.Token);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cancellation.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(async () => await generating.WaitAsync(TimeSpan.FromSeconds(2)));
        Assert.That(await closed.Task.WaitAsync(TimeSpan.FromSeconds(5)), Is.True);
    }

    [Test]
    public async Task AServerThatNeverAnswers_FailsAtTheTimeoutNamingTheSetting()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.ClientClosedAsync(TimeSpan.FromSeconds(30));
        using var engine = Engine(server.BaseUrl, settings: [("Inference:TimeoutSeconds", "0.3")]);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(error!.Message, Does.EndWith("did not finish within Inference:TimeoutSeconds (0.3 s)."));
    }

    [Test]
    public async Task ConnectionRefused_TheEngineIsUnavailable_AndARequestFailsSayingSo()
    {
        var port = ClosedLoopbackPort();
        using var engine = Engine(new Uri($"http://127.0.0.1:{port}/v1"));

        var health = await engine.CheckHealthAsync(CancellationToken.None);
        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        var expected = $"The OpenAI-compatible server at http://127.0.0.1:{port} is not reachable (Connection refused).";
        Assert.That(health.Ready, Is.False);
        Assert.That(health.Loading, Is.False, "nothing here will bring the server up: no request should wait for it");
        Assert.That(health.Detail, Is.EqualTo(expected));
        Assert.That(error!.Message, Is.EqualTo(expected));
    }
}
