using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Distributed.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// The official <c>openai</c> npm package's <c>client.embeddings.create</c> in distributed mode: an API instance beside
/// the server bot hands the call to the server bot over Redis, which seals the embeds over the loopback Discord to the
/// client bot process, whose llama-server runs the generated test model for embeddings.
/// </summary>
[NonParallelizable]
public sealed class DistributedEmbeddingsTests : ClusterFixture
{
    private const string Model = "lizard-embed";

    private string _key = null!;

    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        ClientBotProcess = new Dictionary<string, string>
        {
            ["Inference__Engine"] = "LlamaServer",
            ["Inference__LlamaCppDir"] = LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"),
            ["Inference__ModelPath"] = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"),
            ["Inference__ModelName"] = Model,
            ["Inference__ContextSize"] = "512",
            ["Inference__MaxTokens"] = "32",
            ["Inference__Threads"] = "2",
            ["Inference__Embeddings"] = "true",
            ["Inference__Pooling"] = "mean",
        },
    });

    protected override async Task StartedAsync()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        using var created = await user.At(0).PostAsJsonAsync("api/v1/auth/api-keys", new { name = "openai sdk" });
        created.EnsureSuccessStatusCode();
        _key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _key);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!(await http.GetAsync(new Uri(Cluster.Apis[1], $"v1/models/{Model}")) is { IsSuccessStatusCode: true } found
                 && (await found.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("capabilities")
                 .GetProperty("embeddings").GetBoolean()))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline),
                $"the client bot did not say it makes embeddings within 90 s{Environment.NewLine}{Cluster.Diagnostics}");
            await Task.Delay(200);
        }
    }

    [Test]
    public async Task EmbeddingsCreate_AtTheSecondInstance_AreMadeByTheClientBotOverDiscord()
    {
        var seen = await OpenAiSdkClient.RunAsync("embeddings", Cluster.Apis[1], _key,
            environment: new Dictionary<string, string> { ["MODEL"] = Model });

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        var data = seen.GetProperty("data").EnumerateArray().ToList();
        Assert.That(data, Has.Count.EqualTo(3));
        var hello = Floats(data[0].GetProperty("embedding"));
        Assert.That(hello, Has.Length.EqualTo(64), "the test model's embeddings are 64 wide");
        Assert.That(Floats(data[2].GetProperty("embedding")), Is.EqualTo(hello).Within(1e-5f), "the same text, the same vector");
        Assert.That(Floats(seen.GetProperty("base64")), Is.EqualTo(hello).Within(1e-4f));
        Assert.That(seen.GetProperty("refused").GetProperty("param").GetString(), Is.EqualTo("dimensions"));
    }

    private static float[] Floats(JsonElement vector) => [.. vector.EnumerateArray().Select(v => v.GetSingle())];
}
