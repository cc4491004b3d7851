using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The official <c>openai</c> npm package's <c>client.embeddings.create</c> against <c>/v1/embeddings</c>, answered by
/// a real llama-server started for embeddings on the generated test model (the <c>embeddings</c> scenario of
/// <c>tests/OpenAiClient/client.mjs</c>): floats, base64, the SDK's own default, and a refusal as its error class.
/// </summary>
[NonParallelizable]
public sealed class OpenAiSdkEmbeddingsTests
{
    private const string Model = "lizard-embed";

    private ApiHost _host = null!;
    private ApiClient _owner = null!;
    private string _key = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "LlamaServer",
            ["Inference:LlamaCppDir"] = LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"),
            ["Inference:ModelPath"] = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"),
            ["Inference:ModelName"] = Model,
            ["Inference:ContextSize"] = "512",
            ["Inference:MaxTokens"] = "32",
            ["Inference:Threads"] = "2",
            ["Inference:Embeddings"] = "true",
            ["Inference:Pooling"] = "mean",
            ["Relay:CompletionTimeout"] = "00:01:00",
        }, withEngine: false).StartAsync();
        _owner = _host.NewClient();
        await _owner.SignUpAsync();
        _key = (await ApiClient.ReadAsync(await _owner.PostAsync("api/v1/auth/api-keys", new { name = "sdk" })))
            .GetProperty("key").GetString()!;
        _owner.UseBearer(_key);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(await ApiClient.ReadAsync(await _owner.GetAsync($"v1/models/{Model}")) is var model
                 && model.TryGetProperty("capabilities", out var capabilities)
                 && capabilities.GetProperty("embeddings").GetBoolean()))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the llama-server host did not say it makes embeddings within 60 s");
            await Task.Delay(200);
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _owner.Dispose();
        await _host.DisposeAsync();
    }

    [Test]
    public async Task EmbeddingsCreate_AsFloats_AsBase64_AndByDefault_GivesTheSameVectors()
    {
        var seen = await OpenAiSdkClient.RunAsync("embeddings", _host.BaseAddress, _key,
            environment: new Dictionary<string, string> { ["MODEL"] = Model });

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.That(seen.GetProperty("object").GetString(), Is.EqualTo("list"));
        Assert.That(seen.GetProperty("model").GetString(), Is.EqualTo(Model));
        var usage = seen.GetProperty("usage");
        Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.GreaterThan(0));
        Assert.That(usage.GetProperty("total_tokens").GetInt32(), Is.EqualTo(usage.GetProperty("prompt_tokens").GetInt32()));
        var data = seen.GetProperty("data").EnumerateArray().ToList();
        Assert.That(data.Select(d => d.GetProperty("index").GetInt32()), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(data.Select(d => d.GetProperty("object").GetString()), Is.All.EqualTo("embedding"));
        var hello = Floats(data[0].GetProperty("embedding"));
        Assert.That(hello, Has.Length.EqualTo(64), "the test model's embeddings are 64 wide");
        Assert.That(Floats(data[2].GetProperty("embedding")), Is.EqualTo(hello).Within(1e-5f));
        Assert.That(seen.GetProperty("base64Type").GetString(), Is.EqualTo("string"));
        Assert.That(Floats(seen.GetProperty("base64")), Is.EqualTo(hello).Within(1e-4f));
        Assert.That(Floats(seen.GetProperty("byDefault")), Is.EqualTo(hello).Within(1e-4f));
        var refused = seen.GetProperty("refused");
        Assert.That(refused.GetProperty("error").GetString(), Is.EqualTo("BadRequestError"));
        Assert.That(refused.GetProperty("status").GetInt32(), Is.EqualTo(400));
        Assert.That(refused.GetProperty("param").GetString(), Is.EqualTo("dimensions"));
    }

    private static float[] Floats(JsonElement vector) => [.. vector.EnumerateArray().Select(v => v.GetSingle())];
}
