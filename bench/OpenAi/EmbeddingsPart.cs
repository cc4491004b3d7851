using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Bench.OpenAi;

/// <summary>
/// Part 3: embeddings per second from one llama-server started for embeddings (<c>--embeddings</c>, mean pooling,
/// <c>--parallel 4</c>), directly at its <c>/v1/embeddings</c> and through MeatLizard's <c>/v1/embeddings</c> (embedded
/// mode: the API, the in-process relay's <c>embed</c>/<c>vectors</c> envelopes, the worker and that same llama-server),
/// closed loops of requests of <c>--embed-batch</c> texts at each <c>--concurrency</c>.
/// </summary>
internal static class EmbeddingsPart
{
    private const string Model = "bench-embed";

    public static async Task<int> RunAsync(HttpClient http, string dataRoot, string llamaDir, string modelPath, double seconds,
        int[] levels, int batch, Func<Uri, Task<(string Key, string Model)>> signUp)
    {
        var settings = new Dictionary<string, string>
        {
            ["Inference:Engine"] = "LlamaServer",
            ["Inference:LlamaCppDir"] = llamaDir,
            ["Inference:ModelPath"] = modelPath,
            ["Inference:ModelName"] = Model,
            ["Inference:Parallel"] = "4",
            ["Inference:ContextSize"] = "512",
            ["Inference:MaxTokens"] = "32",
            ["Inference:Embeddings"] = "true",
            ["Inference:Pooling"] = "mean",
        };
        await using var host = new OpenAiHost(dataRoot + "-embeddings", settings);
        var api = await host.StartAsync();
        var engine = host.Services.GetRequiredService<LlamaServerEngine>();
        var llama = await engine.WaitUntilReadyAsync(CancellationToken.None);
        var (key, _) = await signUp(api);
        await WaitForEmbeddingsAsync(http, api, key);

        var texts = Enumerable.Range(0, batch)
            .Select(i => $"Text {i}: desert lizards hunt insects at dusk and rest under stones at noon.").ToArray();
        var targets = new (string Name, Uri Url, string Key)[]
        {
            ("llama-server direct", new Uri(llama, "v1/embeddings"), engine.ApiKey),
            ("MeatLizard /v1", new Uri(api, "v1/embeddings"), key),
        };
        var body = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["model"] = Model,
            ["input"] = new JsonArray([.. texts.Select(t => (JsonNode)t)]),
            ["encoding_format"] = "base64",
        }.ToJsonString());

        Console.WriteLine();
        Console.WriteLine($"Part 3: embeddings from one llama-server (--embeddings, mean pooling, --parallel 4), {Path.GetFileName(modelPath)}");
        Console.WriteLine($"  {batch} texts per request, base64; {seconds:0.#} s per target per level; the direct requests go to the llama-server MeatLizard's engine started");
        foreach (var target in targets)
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SendAsync(http, target.Url, target.Key, body, batch)));
        }

        Console.WriteLine();
        Console.WriteLine($"{"target",-20} {"conc",4} {"n",5} {"fail",4} | {"p50",9} {"p99",9} | {"req/s",7} {"emb/s",8}");
        Console.WriteLine(new string('-', 80));
        var failures = 0;
        var results = new Dictionary<(string, int), ClosedRun>();
        foreach (var concurrency in levels)
        {
            foreach (var target in targets)
            {
                var run = await ClosedRun.RunAsync(concurrency, seconds, _ => SendAsync(http, target.Url, target.Key, body, batch));
                results[(target.Name, concurrency)] = run;
                failures += run.Failures;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{target.Name,-20} {concurrency,4} {run.Count,5} {run.Failures,4} | {run.Total(0.5),7:0.0}ms {run.Total(0.99),7:0.0}ms | {run.PerSecond,7:0.0} {run.PerSecond * batch,8:0.0}"));
            }
        }

        Console.WriteLine();
        Console.WriteLine("MeatLizard /v1 over direct:");
        foreach (var concurrency in levels)
        {
            var direct = results[(targets[0].Name, concurrency)];
            var ours = results[(targets[1].Name, concurrency)];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {concurrency,2} concurrent: embeddings/s {ours.PerSecond / direct.PerSecond:0.00}x of direct, added p50 {ours.Total(0.5) - direct.Total(0.5):+0.0;-0.0} ms, p99 {ours.Total(0.99) - direct.Total(0.99):+0.0;-0.0} ms"));
        }

        Console.WriteLine($"Part 3 failed requests: {failures}");
        return failures;
    }

    /// <summary>One request; its time as a sample (whole, no stream), null when it failed or answered the wrong count.</summary>
    private static async Task<Sample?> SendAsync(HttpClient http, Uri url, string key, byte[] body, int batch)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Authorization = new("Bearer", key);
            using var response = await http.SendAsync(request);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return answer.GetProperty("data").GetArrayLength() == batch ? new Sample(ms, ms, batch, 0) : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException)
        {
            return null;
        }
    }

    private static async Task WaitForEmbeddingsAsync(HttpClient http, Uri api, string key)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var ask = new HttpRequestMessage(HttpMethod.Get, new Uri(api, $"v1/models/{Model}"));
            ask.Headers.Authorization = new("Bearer", key);
            using var response = await http.SendAsync(ask);
            if (response.IsSuccessStatusCode && (await response.Content.ReadFromJsonAsync<JsonElement>())
                    .GetProperty("capabilities").GetProperty("embeddings").GetBoolean())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException("The embedding host did not say it makes embeddings within 60 s.");
            }

            await Task.Delay(200);
        }
    }
}
