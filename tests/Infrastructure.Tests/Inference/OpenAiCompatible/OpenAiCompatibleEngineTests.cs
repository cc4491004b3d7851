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

/// <summary>
/// The OpenAI-compatible engine against a strict loopback server that misbehaves on cue: what it sends, and what a
/// user is told when the server refuses, breaks the stream, drops the connection or does not stop when asked (those in
/// OpenAiCompatibleEngineTests.Failures.cs).
/// </summary>
public sealed partial class OpenAiCompatibleEngineTests
{
    private const string ApiKey = "sk-test-0123456789abcdef";
    private const string Prompt = "Tell me about the secret lizard.";
    [Test]
    public async Task Generate_StreamsTheAnswer_WithTheRequestsSettings_UnderTheUpstreamId()
    {
        await using var server = Start();
        var logs = new RecordingLogger();
        using var engine = Engine(server.BaseUrl, logs);
        var request = Request("tiny") with
        {
            Temperature = 0.25,
            TopP = 0.5,
            MaxTokens = 33,
            Extras = new GenerationExtras(["END", "\n\n"], 42, 0.5, -0.25, """{"type":"json_object"}"""),
        };

        var (text, deltas, completed) = await CollectAsync(engine, request);

        Assert.That(text, Is.EqualTo("Hello there"));
        Assert.That(deltas, Is.EqualTo(2));
        Assert.That(completed, Is.EqualTo(new InferenceCompleted(5, 2, "stop")));
        var sent = server.Completions.Single();
        Assert.That(sent.Header("Authorization"), Is.EqualTo($"Bearer {ApiKey}"));
        var body = sent.Json;
        Assert.Multiple(() =>
        {
            Assert.That(body["model"]!.GetValue<string>(), Is.EqualTo("upstream/tiny:q4"));
            Assert.That(body["stream"]!.GetValue<bool>(), Is.True);
            Assert.That(body["stream_options"]!["include_usage"]!.GetValue<bool>(), Is.True);
            Assert.That(body["temperature"]!.GetValue<double>(), Is.EqualTo(0.25));
            Assert.That(body["top_p"]!.GetValue<double>(), Is.EqualTo(0.5));
            Assert.That(body["max_tokens"]!.GetValue<int>(), Is.EqualTo(33));
            Assert.That(body["stop"]!.AsArray().Select(s => s!.GetValue<string>()), Is.EqualTo(new[] { "END", "\n\n" }));
            Assert.That(body["seed"]!.GetValue<long>(), Is.EqualTo(42));
            Assert.That(body["presence_penalty"]!.GetValue<double>(), Is.EqualTo(0.5));
            Assert.That(body["frequency_penalty"]!.GetValue<double>(), Is.EqualTo(-0.25));
            Assert.That(body["response_format"]!["type"]!.GetValue<string>(), Is.EqualTo("json_object"));
            Assert.That(body["messages"]!.AsArray().Select(m => (m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())),
                Is.EqualTo(new[] { ("system", "Be brief."), ("user", Prompt) }));
            // llama-server's own fields are not for other servers.
            Assert.That(body.AsObject().ContainsKey("cache_prompt"), Is.False);
            Assert.That(body.AsObject().ContainsKey("grammar"), Is.False);
        });
        Assert.That(logs.Text, Does.Contain("model tiny"), "the answer is logged, by model");
        Assert.That(logs.Text, Does.Not.Contain(ApiKey).And.Not.Contain("secret lizard").And.Not.Contain("Hello"));
    }

    [Test]
    public async Task Generate_WithoutSettings_SendsTheConfiguredDefaults_AndTheFirstModelForNoName()
    {
        await using var server = Start();
        using var engine = Engine(server.BaseUrl, settings: [("Inference:Temperature", "0.7"), ("Inference:Seed", "9")]);

        await CollectAsync(engine, Request(model: null));

        var body = server.Completions.Single().Json;
        Assert.That(body["model"]!.GetValue<string>(), Is.EqualTo("upstream/tiny:q4"));
        Assert.That(body["temperature"]!.GetValue<double>(), Is.EqualTo(0.7));
        Assert.That(body["max_tokens"]!.GetValue<int>(), Is.EqualTo(64));
        Assert.That(body["seed"]!.GetValue<long>(), Is.EqualTo(9));
        Assert.That(body.AsObject().ContainsKey("stop"), Is.False);
    }

    [Test]
    public async Task Generate_ASecondModel_GoesByItsOwnId_AndNoKeyMeansNoAuthorization()
    {
        await using var server = Start();
        using var engine = Engine(server.BaseUrl, apiKey: null);

        await CollectAsync(engine, Request("second"));

        var sent = server.Completions.Single();
        Assert.That(sent.Json["model"]!.GetValue<string>(), Is.EqualTo("second"));
        Assert.That(sent.Header("Authorization"), Is.Null);
    }

    [Test]
    public async Task Generate_AModelTheHostDoesNotServe_FailsNamingTheModelsItServes_WithoutAskingTheServer()
    {
        await using var server = Start();
        using var engine = Engine(server.BaseUrl);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("llama-70b")));

        Assert.That(error!.Message, Is.EqualTo("This model host does not serve the model 'llama-70b'; it serves tiny, second."));
        Assert.That(server.Exchanges, Is.Empty);
    }

    [Test]
    public async Task Health_IsReadyWhenTheServerListsItsModels_AndSaysWhatTheHostServes()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(200, """{"object":"list","data":[{"id":"upstream/tiny:q4","object":"model"}]}""");
        using var engine = Engine(server.BaseUrl, settings: [("Inference:Parallel", "3")]);

        var health = await engine.CheckHealthAsync(CancellationToken.None);

        Assert.That(health.Ready, Is.True);
        Assert.That(health.Detail, Is.Null);
        Assert.That(health.Slots, Is.EqualTo(3));
        Assert.That(health.Models, Is.EqualTo(new[] { "tiny", "second" }));
        Assert.That(server.Exchanges.Single().Header("Authorization"), Is.EqualTo($"Bearer {ApiKey}"));
    }

    [Test]
    public async Task MoreRequestsThanParallel_WaitHere_NotAtTheServer()
    {
        await using var server = Start();
        var running = 0;
        var most = 0;
        server.Respond = async exchange =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await Task.Delay(150);
            Interlocked.Decrement(ref running);
            await exchange.WriteStreamAsync([Chunk("ok", finish: "stop")]);
        };
        using var engine = Engine(server.BaseUrl, settings: [("Inference:Parallel", "2")]);

        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => CollectAsync(engine, Request("tiny"))));

        Assert.That(most, Is.EqualTo(2));
        Assert.That(server.Completions.Count(), Is.EqualTo(5));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    internal static IConfiguration Configuration(Uri baseUrl, string? apiKey, params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "OpenAiCompatible",
            ["Inference:OpenAiCompatible:BaseUrl"] = baseUrl.ToString(),
            ["Inference:OpenAiCompatible:ApiKey"] = apiKey,
            ["Inference:OpenAiCompatible:Models:0:Name"] = "tiny",
            ["Inference:OpenAiCompatible:Models:0:Upstream"] = "upstream/tiny:q4",
            ["Inference:OpenAiCompatible:Models:1"] = "second",
            ["Inference:ContextSize"] = "1024",
            ["Inference:MaxTokens"] = "64",
            ["Inference:TimeoutSeconds"] = "30",
        };
        foreach (var (key, value) in settings)
        {
            values[key] = value;
        }

        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }

    [Test]
    public async Task Generate_InsideAMessagesTrace_SendsItsTraceParent_OnceAndContinuingTheTrace()
    {
        await using var server = Start();
        using var engine = Engine(server.BaseUrl);
        using var listener = new MeatLizard.Infrastructure.Telemetry.MessageTraceListener();
        await listener.StartAsync(CancellationToken.None);
        const string carried = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var request = Request("tiny");

        string jobSpan;
        using (var job = MeatLizard.Application.Common.MessageTracing.StartUnder("inference job", ActivityKind.Consumer,
                   carried, request.RequestId))
        {
            Assert.That(job, Is.Not.Null, "the listener makes our activities run");
            jobSpan = job!.SpanId.ToHexString();
            await CollectAsync(engine, request);
        }

        var sent = server.Completions.Single().Header("traceparent");
        Assert.That(sent, Is.Not.Null, "llama-server is told the trace");
        var parts = sent!.Split('-');
        Assert.Multiple(() =>
        {
            Assert.That(parts[1], Is.EqualTo("4bf92f3577b34da6a3ce929d0e0e4736"), "the message's trace id");
            Assert.That(parts[2], Is.Not.EqualTo("00f067aa0ba902b7").And.Not.EqualTo(jobSpan),
                "the parent is the call's own span, a child of the job");
        });
    }

    [Test]
    public async Task Generate_OutsideAnyTrace_SendsNoTraceParent()
    {
        await using var server = Start();
        using var engine = Engine(server.BaseUrl);
        var outer = Activity.Current;
        Activity.Current = null;
        try
        {
            await CollectAsync(engine, Request("tiny"));
        }
        finally
        {
            Activity.Current = outer;
        }

        Assert.That(server.Completions.Single().Header("traceparent"), Is.Null);
    }

    private static OpenAiCompatibleEngine Engine(Uri baseUrl, RecordingLogger? logs = null, string? apiKey = ApiKey,
        (string Key, string Value)[]? settings = null)
    {
        var configuration = Configuration(baseUrl, apiKey, settings ?? []);
        return new OpenAiCompatibleEngine(OpenAiCompatibleOptions.Read(configuration), LlamaCppOptions.Read(configuration),
            logs ?? new RecordingLogger());
    }

    private static InferenceRequest Request(string? model) =>
        new(Guid.NewGuid(), Guid.NewGuid(), model, "Be brief.", [new ChatTurn(MessageRole.User, Prompt)], null, null, null);

    private static Task<(string Text, int Deltas, InferenceCompleted Completed)> CollectAsync(
        IInferenceEngine engine, InferenceRequest request, CancellationToken cancellationToken = default) =>
        LlamaCpp.LlamaTestEnvironment.CollectAsync(engine, request, cancellationToken);

    private static int ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal sealed class RecordingLogger : Support.RecordingLogger<OpenAiCompatibleEngine>
    {
    }
}
