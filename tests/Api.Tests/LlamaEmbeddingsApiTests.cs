using System.Net;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Embeddings;

namespace MeatLizard.Api.Tests;

/// <summary>
/// <c>/v1/embeddings</c> end to end with a real llama-server started for embeddings (<c>Inference:Embeddings</c>,
/// mean pooling) on the generated test model: API → relay (encrypted, in-process) → worker → llama-server → vectors.
/// The vectors are as long as the model file says its embeddings are, and the same text gives the same vector; the
/// official <c>openai</c> npm package's <c>client.embeddings.create</c> (the <c>embeddings</c> scenario of
/// <c>tests/OpenAiClient/client.mjs</c>) reads them as floats, as base64 and as it asks by default.
/// </summary>
[NonParallelizable]
public sealed class LlamaEmbeddingsApiTests
{
    private ApiHost _host = null!;
    private ApiClient _client = null!;
    private string _model = null!;
    private string _key = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var modelPath = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL");
        _model = Path.GetFileNameWithoutExtension(modelPath);
        _host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "LlamaServer",
            ["Inference:LlamaCppDir"] = LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"),
            ["Inference:ModelPath"] = modelPath,
            ["Inference:ContextSize"] = "512",
            ["Inference:MaxTokens"] = "32",
            ["Inference:Threads"] = "2",
            ["Inference:Parallel"] = "2",
            ["Inference:Embeddings"] = "true",
            ["Inference:Pooling"] = "mean",
            ["Relay:CompletionTimeout"] = "00:01:00",
        }, withEngine: false).StartAsync();
        using (var owner = _host.NewClient())
        {
            await owner.SignUpAsync();
            _key = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "rag" })))
                .GetProperty("key").GetString()!;
            _client = _host.NewClient();
            _client.UseBearer(_key);
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await EmbedsAsync())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the llama-server host did not say it makes embeddings within 60 s");
            await Task.Delay(200);
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        await _host.DisposeAsync();
    }

    [Test]
    public async Task Vectors_AreAsLongAsTheModelsEmbeddings_AndTheSameTextGivesTheSameVector()
    {
        var width = EmbeddingLengthOf(LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"));

        var batch = await EmbedAsync(new { model = _model, input = new[] { "hello world", "a lizard basks in the sun", "hello world" } });
        var alone = await EmbedAsync(new { model = _model, input = "hello world" });

        var data = batch.GetProperty("data");
        Assert.That(data.GetArrayLength(), Is.EqualTo(3));
        var vectors = data.EnumerateArray().Select(Floats).ToList();
        Assert.That(vectors.Select(v => v.Length), Is.All.EqualTo(width), "one number per dimension of the model's embeddings");
        Assert.That(vectors[2], Is.EqualTo(vectors[0]).Within(1e-5f), "the same text in one batch");
        Assert.That(Floats(alone.GetProperty("data")[0]), Is.EqualTo(vectors[0]).Within(1e-4f), "the same text asked again");
        Assert.That(vectors[1], Is.Not.EqualTo(vectors[0]).Within(1e-4f), "another text, another vector");
        Assert.That(batch.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), Is.GreaterThan(0));
        Assert.That(batch.GetProperty("model").GetString(), Is.EqualTo(_model));
    }

    [Test]
    public async Task AnInputLongerThanTheModelTakes_Is400NamingInput_AndTheNextIsAnswered()
    {
        // Far over the 512-token context: llama-server refuses it (its 500 "input is too large to process"), which is
        // the caller's input, not the host failing.
        var tooLong = string.Join(' ', Enumerable.Repeat("basking lizards warm themselves", 800));

        var refused = await _client.PostAsync("v1/embeddings", new { model = _model, input = tooLong });
        var next = await EmbedAsync(new { model = _model, input = "hello world" });

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await refused.Content.ReadAsStringAsync());
        var error = (await ApiClient.ReadAsync(refused)).GetProperty("error");
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("input"));
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
        Assert.That(next.GetProperty("data").GetArrayLength(), Is.EqualTo(1));
    }

    [Test]
    public async Task Base64_HoldsTheSameFloats()
    {
        var floats = await EmbedAsync(new { model = _model, input = "the base64 form" });
        var base64 = await EmbedAsync(new { model = _model, input = "the base64 form", encoding_format = "base64" });

        var decoded = EmbeddingVectors.FromBase64(base64.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        Assert.That(decoded, Is.EqualTo(Floats(floats.GetProperty("data")[0])).Within(1e-4f));
    }

    [Test]
    public async Task TheOpenAiSdk_CreatesEmbeddings_AsFloats_AsBase64_AndByDefault_AndReadsARefusal()
    {
        var width = EmbeddingLengthOf(LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"));

        var seen = await OpenAiSdkClient.RunAsync("embeddings", _host.BaseAddress, _key,
            environment: new Dictionary<string, string> { ["MODEL"] = _model });

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.That(seen.GetProperty("object").GetString(), Is.EqualTo("list"));
        Assert.That(seen.GetProperty("model").GetString(), Is.EqualTo(_model));
        var usage = seen.GetProperty("usage");
        Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.GreaterThan(0));
        Assert.That(usage.GetProperty("total_tokens").GetInt32(), Is.EqualTo(usage.GetProperty("prompt_tokens").GetInt32()));
        var data = seen.GetProperty("data").EnumerateArray().ToList();
        Assert.That(data.Select(d => d.GetProperty("index").GetInt32()), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(data.Select(d => d.GetProperty("object").GetString()), Is.All.EqualTo("embedding"));
        var hello = Floats(data[0]);
        Assert.That(hello, Has.Length.EqualTo(width));
        Assert.That(Floats(data[2]), Is.EqualTo(hello).Within(1e-5f));
        Assert.That(seen.GetProperty("base64Type").GetString(), Is.EqualTo("string"), "asked for base64, the SDK hands the string over");
        Assert.That(Numbers(seen.GetProperty("base64")), Is.EqualTo(hello).Within(1e-4f));
        Assert.That(Numbers(seen.GetProperty("byDefault")), Is.EqualTo(hello).Within(1e-4f));
        var refused = seen.GetProperty("refused");
        Assert.That(refused.GetProperty("error").GetString(), Is.EqualTo("BadRequestError"));
        Assert.That(refused.GetProperty("status").GetInt32(), Is.EqualTo(400));
        Assert.That(refused.GetProperty("param").GetString(), Is.EqualTo("dimensions"));
    }

    private async Task<bool> EmbedsAsync()
    {
        var response = await _client.GetAsync($"v1/models/{_model}");
        return response.StatusCode == HttpStatusCode.OK
               && (await ApiClient.ReadAsync(response)).GetProperty("capabilities").GetProperty("embeddings").GetBoolean();
    }

    private async Task<JsonElement> EmbedAsync(object body)
    {
        var response = await _client.PostAsync("v1/embeddings", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await ApiClient.ReadAsync(response);
    }

    private static float[] Floats(JsonElement item) => Numbers(item.GetProperty("embedding"));

    private static float[] Numbers(JsonElement vector) => [.. vector.EnumerateArray().Select(v => v.GetSingle())];

    /// <summary>The model's <c>{architecture}.embedding_length</c>, read from the GGUF file's own metadata.</summary>
    private static int EmbeddingLengthOf(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        Assert.That(reader.ReadUInt32(), Is.EqualTo(0x46554747u), "GGUF magic");
        reader.ReadUInt32(); // version
        reader.ReadUInt64(); // tensors
        var count = reader.ReadUInt64();
        for (ulong i = 0; i < count; i++)
        {
            var key = Encoding.UTF8.GetString(reader.ReadBytes(checked((int)reader.ReadUInt64())));
            var type = reader.ReadUInt32();
            if (key.EndsWith(".embedding_length", StringComparison.Ordinal))
            {
                return type == 4 ? checked((int)reader.ReadUInt32()) : checked((int)reader.ReadUInt64());
            }

            Skip(reader, type);
        }

        throw new InvalidDataException("The model file says no embedding length.");
    }

    private static void Skip(BinaryReader reader, uint type)
    {
        switch (type)
        {
            case 0 or 1 or 7: reader.ReadByte(); break; // u8, i8, bool
            case 2 or 3: reader.ReadUInt16(); break;
            case 4 or 5 or 6: reader.ReadUInt32(); break; // u32, i32, f32
            case 10 or 11 or 12: reader.ReadUInt64(); break; // u64, i64, f64
            case 8: reader.ReadBytes(checked((int)reader.ReadUInt64())); break; // string
            case 9: // array: element type, count, elements
                var element = reader.ReadUInt32();
                var length = reader.ReadUInt64();
                for (ulong j = 0; j < length; j++)
                {
                    Skip(reader, element);
                }

                break;
            default: throw new InvalidDataException($"GGUF value type {type} is not known.");
        }
    }
}
