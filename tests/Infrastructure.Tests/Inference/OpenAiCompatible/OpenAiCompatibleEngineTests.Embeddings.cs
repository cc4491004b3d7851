using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Embeddings;
using NUnit.Framework;
using static MeatLizard.TestKit.LoopbackChatServer;

namespace MeatLizard.Infrastructure.Tests.Inference.OpenAiCompatible;

/// <summary>
/// Embeddings passed through to the upstream's <c>/v1/embeddings</c> for a model configured to make them: what is
/// sent, the vectors read back by index, and a refusal told in the server's words.
/// </summary>
public sealed partial class OpenAiCompatibleEngineTests
{
    private static readonly (string, string)[] EmbeddingModel =
    [
        ("Inference:OpenAiCompatible:Models:0:Embeddings", "true"),
        ("Inference:OpenAiCompatible:Models:0:Dimensions", "true"),
    ];

    [Test]
    public async Task Embed_SendsTheTextsUnderTheUpstreamId_AsBase64_AndReadsTheVectorsByIndex()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(200, $$$"""
            {"object":"list","data":[
              {"object":"embedding","index":1,"embedding":"{{{EmbeddingVectors.ToBase64([3f, 4f])}}}"},
              {"object":"embedding","index":0,"embedding":[1.5,-2]}],
             "model":"upstream/tiny:q4","usage":{"prompt_tokens":7,"total_tokens":7}}
            """);
        using var engine = Engine(server.BaseUrl, settings: EmbeddingModel);

        var result = await engine.EmbedAsync(new EmbeddingRequest(Guid.NewGuid(), "tiny", ["first", "second"], 2),
            CancellationToken.None);

        Assert.That(result.Vectors, Is.EqualTo(new[] { new[] { 1.5f, -2f }, new[] { 3f, 4f } }));
        Assert.That(result.PromptTokens, Is.EqualTo(7));
        var sent = server.Exchanges.Single();
        Assert.That(sent.Path, Is.EqualTo("/v1/embeddings"));
        Assert.That(sent.Header("Authorization"), Is.EqualTo($"Bearer {ApiKey}"));
        Assert.That(sent.Json["model"]!.GetValue<string>(), Is.EqualTo("upstream/tiny:q4"));
        Assert.That(sent.Json["input"]!.AsArray().Select(i => i!.GetValue<string>()), Is.EqualTo(new[] { "first", "second" }));
        Assert.That(sent.Json["encoding_format"]!.GetValue<string>(), Is.EqualTo("base64"));
        Assert.That(sent.Json["dimensions"]!.GetValue<int>(), Is.EqualTo(2));
    }

    [Test]
    public async Task Health_NamesTheModelsThatMakeEmbeddings()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(200, """{"object":"list","data":[{"id":"upstream/tiny:q4","object":"model"}]}""");
        using var engine = Engine(server.BaseUrl, settings: EmbeddingModel);

        var health = await engine.CheckHealthAsync(CancellationToken.None);

        Assert.That(health.Embeddings, Is.EqualTo(new[] { new EmbeddingModel("tiny", null, Dimensions: true) }));
    }

    [Test]
    public async Task Embed_AModelNotConfiguredForThem_FailsWithoutAskingTheServer()
    {
        await using var server = Start();
        using var engine = Engine(server.BaseUrl, settings: EmbeddingModel);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() =>
            engine.EmbedAsync(new EmbeddingRequest(Guid.NewGuid(), "second", ["x"]), CancellationToken.None));

        Assert.That(error!.Message, Does.Contain("'second'"));
        Assert.That(server.Exchanges, Is.Empty);
    }

    [Test]
    public async Task Embed_AServerRefusingForNow_IsUnavailable_InTheServersWords_WithoutTheKey()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(503, $$$"""{"error":{"message":"overloaded, key {{{ApiKey}}}"}}""");
        using var engine = Engine(server.BaseUrl, settings: EmbeddingModel);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() =>
            engine.EmbedAsync(new EmbeddingRequest(Guid.NewGuid(), "tiny", ["secret text"]), CancellationToken.None));

        Assert.That(error!.Unavailable, Is.True);
        Assert.That(error.Message, Does.Contain("overloaded").And.Not.Contain(ApiKey).And.Not.Contain("secret text"));
    }

    [TestCase(400, "the input is longer than the model's context")]
    [TestCase(500, "input is too large to process. increase the physical batch size")]
    public async Task Embed_AnInputTheServerRefuses_IsTheCallers_NotUnavailable(int status, string message)
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(status, $$$"""{"error":{"code":{{{status}}},"message":"{{{message}}}","type":"server_error"}}""");
        using var engine = Engine(server.BaseUrl, settings: EmbeddingModel);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() =>
            engine.EmbedAsync(new EmbeddingRequest(Guid.NewGuid(), "tiny", ["long text"]), CancellationToken.None));

        Assert.That((error!.InputRefused, error.Unavailable), Is.EqualTo((true, false)));
        Assert.That(error.Message, Does.Contain(message));
    }
}
