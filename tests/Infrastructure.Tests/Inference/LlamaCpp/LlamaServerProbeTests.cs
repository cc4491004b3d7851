using System.Net;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>
/// What the engine reads of a ready run's model, and the token counts it remembers, on a stub llama-server answering
/// as its README describes (the real one: LlamaServerEngineTests, LlamaServerModelsTests).
/// </summary>
public sealed class LlamaServerProbeTests
{
    private static readonly LlamaServerRun Run = new(LlamaServerStub.BaseAddress, "key-1", 1);

    [Test]
    public async Task AChatModel_WhoseTemplateWritesToolCalls_TakesTools()
    {
        using var stub = new LlamaServerStub((request, _) => Task.FromResult(request.RequestUri!.AbsolutePath == "/props"
            ? LlamaServerStub.Json("""{"chat_template_caps":{"supports_tool_calls":true}}""")
            : new HttpResponseMessage(HttpStatusCode.NotFound)));
        using var http = new HttpClient(stub);

        var run = await new LlamaServerProbe(http).DescribeAsync(Run, embeddings: false, CancellationToken.None);

        Assert.That(run, Is.EqualTo(Run with { TakesTools = true, EmbeddingWidth = null }));
        Assert.That(stub.Asked, Is.EqualTo(new[] { ("/props", "key-1") }));
    }

    [TestCase("""{"chat_template_caps":{"supports_tool_calls":false}}""")]
    [TestCase("""{"chat_template_caps":"yes"}""")]
    [TestCase("not json")]
    public async Task AModelThatDoesNotSayItWritesToolCalls_TakesNone(string props)
    {
        using var stub = new LlamaServerStub((_, _) => Task.FromResult(LlamaServerStub.Json(props)));
        using var http = new HttpClient(stub);

        Assert.That(await new LlamaServerProbe(http).TakesToolsAsync(Run, CancellationToken.None), Is.False);
    }

    [Test]
    public async Task AnEmbeddingModel_HasTheWidthOfItsVectors_AndNoTools()
    {
        using var stub = new LlamaServerStub((_, _) => Task.FromResult(
            LlamaServerStub.Json("""{"object":"list","data":[{"id":"m","meta":{"n_embd":896}}]}""")));
        using var http = new HttpClient(stub);

        var run = await new LlamaServerProbe(http).DescribeAsync(Run, embeddings: true, CancellationToken.None);

        Assert.That(run, Is.EqualTo(Run with { TakesTools = false, EmbeddingWidth = 896 }));
        Assert.That(stub.Asked, Is.EqualTo(new[] { ("/v1/models", "key-1") }));
    }

    [Test]
    public async Task TokenCounts_AreAskedOncePerText()
    {
        using var stub = new LlamaServerStub((_, _) => Task.FromResult(LlamaServerStub.Json("""{"tokens":[1,2,3]}""")));
        using var http = new HttpClient(stub);
        var counter = new LlamaServerTokenCounter(http, NullLogger.Instance);

        Assert.That(await counter.CountAsync(Run, "a text", CancellationToken.None), Is.EqualTo(3));
        Assert.That(await counter.CountAsync(Run, "a text", CancellationToken.None), Is.EqualTo(3));
        Assert.That(stub.Asked, Is.EqualTo(new[] { ("/tokenize", "key-1") }), "the second count from memory");
    }

    [Test]
    public async Task ATokenCountLlamaServerCannotGive_IsEstimated_AndNotRemembered()
    {
        using var stub = new LlamaServerStub((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)));
        using var http = new HttpClient(stub);
        var counter = new LlamaServerTokenCounter(http, NullLogger.Instance);
        var text = new string('x', 300);

        Assert.That(await counter.CountAsync(Run, text, CancellationToken.None), Is.EqualTo(ChatPrompt.EstimateTokens(text)));
        await counter.CountAsync(Run, text, CancellationToken.None);
        Assert.That(stub.Asked, Has.Count.EqualTo(2));
    }
}
