using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Distributed.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// The official <c>openai</c> npm package against <c>/v1</c> in distributed mode: two API instances and the server bot
/// as processes, the client bot as a process of its own answering with llama.cpp and the generated test model, the
/// relay over the loopback Discord. The same checks as in embedded mode (<see cref="OpenAiShapes"/>), a whole answer
/// from one instance and a stream from the other.
/// </summary>
[NonParallelizable]
public sealed class DistributedOpenAiSdkTests : ClusterFixture
{
    private string _key = null!;

    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        ClientBotProcess = new Dictionary<string, string>
        {
            ["Inference__Engine"] = "LlamaServer",
            ["Inference__LlamaCppDir"] = LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"),
            ["Inference__ModelPath"] = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"),
            ["Inference__ContextSize"] = "1024",
            ["Inference__MaxTokens"] = "32",
            ["Inference__Threads"] = "2",
        },
    });

    protected override async Task StartedAsync()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        using var created = await user.At(0).PostAsJsonAsync("api/v1/auth/api-keys", new { name = "openai sdk" });
        created.EnsureSuccessStatusCode();
        _key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        await WaitForModelAsync();
    }

    [Test]
    public async Task Models_AtTheSecondInstance_ListTheDefault()
    {
        var seen = await OpenAiSdkClient.RunAsync("models", Cluster.Apis[1], _key);

        Assert.That(seen.GetProperty("ids").EnumerateArray().Select(i => i.GetString()), Does.Contain("default"));
    }

    [Test]
    public async Task Complete_AtTheFirstInstance_AnswersWithUsageAndAFinishReason() =>
        OpenAiShapes.AssertCompletion(await OpenAiSdkClient.RunAsync("complete", Cluster.Apis[0], _key));

    [Test]
    public async Task Stream_AtTheSecondInstance_StartsWithTheRole_AndEndsWithAUsageChunkWithoutChoices() =>
        OpenAiShapes.AssertStream(await OpenAiSdkClient.RunAsync("stream", Cluster.Apis[1], _key));

    /// <summary>The client bot is online once started; its llama-server loads the model after that.</summary>
    private async Task WaitForModelAsync()
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var workers = (await http.GetFromJsonAsync<JsonElement>(new Uri(Cluster.Apis[0], "api/v1/status")))
                .GetProperty("workers");
            if (workers.EnumerateArray().Any(w => w.GetProperty("ready").GetBoolean()))
            {
                return;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"the client bot's llama-server was not ready within 60 s{Environment.NewLine}{Cluster.Diagnostics}");
            await Task.Delay(200);
        }
    }
}
