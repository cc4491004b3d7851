using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Embeddings;
using MeatLizard.TestKit;

namespace MeatLizard.Api.Tests;

/// <summary>
/// <c>POST /v1/embeddings</c> over HTTP, on both databases, with the scripted engine as a model host that makes
/// embeddings with the model "embedder" (besides chatting with "default"): OpenAI's shape, floats and base64, batches
/// split and put back in order, the capability in <c>/v1/models</c>, and every refusal naming its parameter with
/// nothing stored.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class EmbeddingsApiTests(string storage) : ApiHostFixture(storage)
{
    private const string Model = "embedder";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Api:OpenAi:MaxEmbeddingInputs"] = "300",
        ["Api:OpenAi:MaxEmbeddingCharacters"] = "5000",
    };

    protected override async Task OnStartedAsync()
    {
        Host.Engine.Health = Host.Engine.Health with { Models = ["default", Model], Slots = 2 };
        Host.Engine.EmbeddingModels = [new EmbeddingModel(Model, Width: 8)];
        var (client, _) = await KeyClientAsync();
        using (client)
        {
            await WaitForAsync(async () => (await ApiClient.ReadAsync(await client.GetAsync($"v1/models/{Model}")))
                .GetProperty("capabilities").GetProperty("embeddings").GetBoolean());
        }
    }

    [SetUp]
    public void ResetEngine()
    {
        Host.Engine.FailWith = null;
        Host.Engine.RefuseInputWith = null;
        Host.Engine.Ready = true;
    }

    [Test]
    public async Task Embeddings_AnswerInOpenAisShape_OneVectorPerInput_TheSameForTheSameText_AndStoreNoChat()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/embeddings",
            new { model = Model, input = new[] { "the cat sat", "a dog", "the cat sat" }, user = "someone" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var list = await ApiClient.ReadAsync(response);
        Assert.That(list.GetProperty("object").GetString(), Is.EqualTo("list"));
        Assert.That(list.GetProperty("model").GetString(), Is.EqualTo(Model));
        var data = list.GetProperty("data");
        Assert.That(data.GetArrayLength(), Is.EqualTo(3));
        for (var i = 0; i < 3; i++)
        {
            Assert.That(data[i].GetProperty("object").GetString(), Is.EqualTo("embedding"));
            Assert.That(data[i].GetProperty("index").GetInt32(), Is.EqualTo(i));
        }

        var first = Floats(data[0]);
        Assert.That(first, Is.EqualTo(ScriptedEngine.VectorOf("the cat sat", 8)));
        Assert.That(Floats(data[1]), Is.EqualTo(ScriptedEngine.VectorOf("a dog", 8)));
        Assert.That(Floats(data[2]), Is.EqualTo(first), "the same text, the same vector");
        var usage = list.GetProperty("usage");
        Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(8));
        Assert.That(usage.GetProperty("total_tokens").GetInt32(), Is.EqualTo(8));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task Base64_IsTheLittleEndianFloatsOfTheSameVector()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/embeddings",
            new { model = Model, input = "hello there", encoding_format = "base64" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var embedding = (await ApiClient.ReadAsync(response)).GetProperty("data")[0].GetProperty("embedding");
        Assert.That(embedding.ValueKind, Is.EqualTo(JsonValueKind.String));
        Assert.That(EmbeddingVectors.FromBase64(embedding.GetString()!), Is.EqualTo(ScriptedEngine.VectorOf("hello there", 8)));
    }

    [Test]
    public async Task ABatch_IsSplitIntoParts_AndTheVectorsComeBackInTheInputsOrder()
    {
        var (client, _) = await KeyClientAsync();
        var inputs = Enumerable.Range(0, 150).Select(i => $"text {i}").ToArray();
        var asked = Host.Engine.EmbeddingRequests.Count;

        var response = await client.PostAsync("v1/embeddings", new { model = Model, input = inputs });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var data = (await ApiClient.ReadAsync(response)).GetProperty("data");
        Assert.That(data.GetArrayLength(), Is.EqualTo(150));
        for (var i = 0; i < inputs.Length; i++)
        {
            Assert.That(Floats(data[i]), Is.EqualTo(ScriptedEngine.VectorOf(inputs[i], 8)), $"vector {i}");
        }

        var parts = Host.Engine.EmbeddingRequests.Skip(asked).ToList();
        Assert.That(parts, Has.Count.EqualTo(3), "150 inputs go in parts of at most 64");
        Assert.That(parts.Sum(p => p.Inputs.Count), Is.EqualTo(150));
        Assert.That(parts.Select(p => p.Model), Is.All.EqualTo(Model));
    }

    [Test]
    public async Task Models_SayWhichModelMakesEmbeddings()
    {
        var (client, _) = await KeyClientAsync();

        var embedder = await ApiClient.ReadAsync(await client.GetAsync($"v1/models/{Model}"));
        var chat = await ApiClient.ReadAsync(await client.GetAsync("v1/models/default"));

        Assert.That(embedder.GetProperty("capabilities").GetProperty("embeddings").GetBoolean(), Is.True);
        Assert.That(chat.GetProperty("capabilities").GetProperty("embeddings").GetBoolean(), Is.False);
    }

    [TestCase("""{"model":"default","input":"x"}""", "model")]
    [TestCase("""{"input":"x"}""", "model")]
    [TestCase("""{"model":"embedder"}""", "input")]
    [TestCase("""{"model":"embedder","input":[]}""", "input")]
    [TestCase("""{"model":"embedder","input":""}""", "input")]
    [TestCase("""{"model":"embedder","input":[1,2,3]}""", "input")]
    [TestCase("""{"model":"embedder","input":[[1,2],[3]]}""", "input")]
    [TestCase("""{"model":"embedder","input":{"text":"x"}}""", "input")]
    [TestCase("""{"model":"embedder","input":"x","encoding_format":"hex"}""", "encoding_format")]
    [TestCase("""{"model":"embedder","input":"x","dimensions":4}""", "dimensions")]
    [TestCase("""{"model":"embedder","input":"x","dimensions":0}""", "dimensions")]
    [TestCase("""{"model":"embedder","input":"x","user":5}""", "user")]
    [TestCase("""{"model":"embedder","input":"x","frobnicate":true}""", "frobnicate")]
    public async Task Refused_Is400NamingTheParam_AndAsksNoHost(string body, string param)
    {
        var (client, _) = await KeyClientAsync();
        var asked = Host.Engine.EmbeddingRequests.Count;

        var response = await client.Http.PostAsync("v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo(param));
        Assert.That(error.GetProperty("message").GetString(), Is.Not.Empty);
        Assert.That(Host.Engine.EmbeddingRequests, Has.Count.EqualTo(asked));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task TooManyInputs_OrTooManyCharacters_Are400NamingInput()
    {
        var (client, _) = await KeyClientAsync();

        var many = await client.PostAsync("v1/embeddings",
            new { model = Model, input = Enumerable.Range(0, 301).Select(i => $"t{i}").ToArray() });
        var long_ = await client.PostAsync("v1/embeddings",
            new { model = Model, input = new[] { new string('a', 3000), new string('b', 2001) } });

        foreach (var response in new[] { many, long_ })
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ApiClient.ReadAsync(response)).GetProperty("error").GetProperty("param").GetString(),
                Is.EqualTo("input"));
        }
    }

    [Test]
    public async Task AnUnknownModel_Is404_AndNoKey_Is401()
    {
        var (client, _) = await KeyClientAsync();
        using var anonymous = Host.NewClient();

        var unknown = await client.PostAsync("v1/embeddings", new { model = "nobody-serves-this", input = "x" });
        var noKey = await anonymous.PostAsync("v1/embeddings", new { model = Model, input = "x" });

        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await ApiClient.ReadAsync(unknown)).GetProperty("error").GetProperty("param").GetString(),
            Is.EqualTo("model"));
        Assert.That(noKey.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task AnEngineThatFails_Is503InOpenAisShape()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.FailWith = "the embedding model is broken";

        var response = await client.PostAsync("v1/embeddings", new { model = Model, input = "x" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("server_error"));
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("the embedding model is broken"));
    }

    [Test]
    public async Task AnInputTheEngineRefuses_Is400NamingInput_NotA503()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.RefuseInputWith = "input is too large to process. increase the physical batch size";

        var response = await client.PostAsync("v1/embeddings", new { model = Model, input = "a very long text" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("input"));
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("too large"));
    }

    [Test]
    public async Task NoHostOnline_Is503_WithRetryAfter()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.Ready = false;
        try
        {
            HttpResponseMessage? response = null;
            await WaitForAsync(async () =>
            {
                response = await client.PostAsync("v1/embeddings", new { model = Model, input = "x" });
                return response.StatusCode == HttpStatusCode.ServiceUnavailable;
            });

            Assert.That(response!.Headers.RetryAfter, Is.Not.Null);
            Assert.That((await ApiClient.ReadAsync(response)).GetProperty("error").GetProperty("code").GetString(),
                Is.EqualTo("model_unavailable"));
        }
        finally
        {
            Host.Engine.Ready = true;
            await WaitForAsync(async () => (await client.PostAsync("v1/embeddings", new { model = Model, input = "x" }))
                .StatusCode == HttpStatusCode.OK);
        }
    }

    [Test]
    public async Task Usage_CountsEachUsersEmbeddingsAndChat_ForAdminsToSee_PerUser()
    {
        using var owner = Host.NewClient();
        var username = await owner.SignUpAsync();
        var userId = (await ApiClient.ReadAsync(await owner.GetAsync("api/v1/auth/me"))).GetProperty("id").GetGuid();
        var key = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "sdk" })))
            .GetProperty("key").GetString()!;
        using var client = Host.NewClient();
        client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var embedded = await client.PostAsync("v1/embeddings", new { model = Model, input = new[] { "the cat sat", "a dog" } });
        Assert.That(embedded.StatusCode, Is.EqualTo(HttpStatusCode.OK), await embedded.Content.ReadAsStringAsync());
        var tokens = (await ApiClient.ReadAsync(embedded)).GetProperty("usage").GetProperty("prompt_tokens").GetInt64();
        var answered = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages = new[] { new { role = "user", content = "hello there" } } });
        Assert.That(answered.StatusCode, Is.EqualTo(HttpStatusCode.OK), await answered.Content.ReadAsStringAsync());
        var chatUsage = (await ApiClient.ReadAsync(answered)).GetProperty("usage");

        var admin = await Host.FirstAdminAsync();
        JsonElement mine = default;
        await WaitForAsync(async () =>
        {
            var report = await ApiClient.ReadAsync(await admin.GetAsync($"api/v1/admin/usage?days=1&userId={userId}"));
            var users = report.GetProperty("users");
            if (users.GetArrayLength() != 1 || users[0].GetProperty("chat").GetProperty("requests").GetInt64() == 0)
            {
                return false; // figures are written in batches, off the call's path
            }

            mine = users[0];
            return true;
        });
        Assert.That(mine.GetProperty("username").GetString(), Is.EqualTo(username));
        var embeddings = mine.GetProperty("embeddings");
        Assert.That((embeddings.GetProperty("requests").GetInt64(), embeddings.GetProperty("inputs").GetInt64(),
            embeddings.GetProperty("promptTokens").GetInt64()), Is.EqualTo((1L, 2L, tokens)), "the embeddings call, counted");
        var chat = mine.GetProperty("chat");
        Assert.That((chat.GetProperty("requests").GetInt64(), chat.GetProperty("promptTokens").GetInt64(),
                chat.GetProperty("completionTokens").GetInt64()),
            Is.EqualTo((1L, chatUsage.GetProperty("prompt_tokens").GetInt64(), chatUsage.GetProperty("completion_tokens").GetInt64())),
            "the answer, counted as /v1 reported it");

        var everyone = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/usage"));
        Assert.That(everyone.GetProperty("days").GetInt32(), Is.EqualTo(30));
        Assert.That(everyone.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("userId").GetGuid()), Does.Contain(userId));
        Assert.That((await owner.GetAsync("api/v1/admin/usage")).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        var badDays = await admin.GetAsync("api/v1/admin/usage?days=0");
        Assert.That(badDays.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await badDays.Content.ReadAsStringAsync(), Does.Contain("days"));
    }

    private static float[] Floats(JsonElement item) =>
        [.. item.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle())];

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            if (DateTime.UtcNow > until)
            {
                Assert.Fail("The condition did not come true within 15 s.");
            }

            await Task.Delay(100);
        }
    }

    private async Task<(ApiClient Client, string Key)> KeyClientAsync()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var key = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "sdk" })))
            .GetProperty("key").GetString()!;
        var client = Host.NewClient();
        client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return (client, key);
    }
}
