using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

// Time to first token and total time for the same prompts: the one-shot engine (a llama-completion per request),
// the managed-server engine, and a direct HTTP call to the very same llama-server (the floor), sequentially and
// 4 at once. Usage: bench/llama.sh [--dir BIN] [--model GGUF] [--requests 8] [--max-tokens 32] [--no-verdict]
// It judges no target (--no-verdict, which every benchmark takes, changes nothing here); it exits 1 when a request
// failed: an engine error, an answer without its completion, a stream that ended before [DONE].
var arguments = args.Where(a => a != "--no-verdict").Chunk(2).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
var requests = int.Parse(arguments.GetValueOrDefault("--requests", "8"), CultureInfo.InvariantCulture);
var maxTokens = int.Parse(arguments.GetValueOrDefault("--max-tokens", "32"), CultureInfo.InvariantCulture);
const int Concurrency = 4;
var options = LlamaCppOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Inference:LlamaCppDir"] = arguments.GetValueOrDefault("--dir"),
    ["Inference:ModelPath"] = arguments.GetValueOrDefault("--model"),
    ["Inference:ContextSize"] = "2048",
    ["Inference:Parallel"] = Concurrency.ToString(CultureInfo.InvariantCulture),
    ["Inference:Seed"] = "7",
    ["Inference:ExtraArgs:0"] = "--ignore-eos",
}).Build());
// The direct client's connections come on top of the engine's; give llama-server HTTP threads for both.
var serverOptions = LlamaCppOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Inference:LlamaCppDir"] = arguments.GetValueOrDefault("--dir"),
    ["Inference:ModelPath"] = arguments.GetValueOrDefault("--model"),
    ["Inference:ContextSize"] = "2048",
    ["Inference:Parallel"] = Concurrency.ToString(CultureInfo.InvariantCulture),
    ["Inference:Seed"] = "7",
    ["Inference:ExtraArgs:0"] = "--ignore-eos",
    ["Inference:ExtraArgs:1"] = "--threads-http",
    ["Inference:ExtraArgs:2"] = "16",
}).Build());
var installation = LlamaCppInstallation.Resolve(options, needsCompletionBinary: true);
Console.WriteLine($"llama.cpp: {installation.Directory}");
Console.WriteLine($"model:     {installation.ModelPath}");
Console.WriteLine($"{requests} requests of {maxTokens} tokens each; concurrent runs use {Concurrency} at once");
Console.WriteLine();

var prompts = Enumerable.Range(0, requests)
    .Select(i => new InferenceRequest(Guid.NewGuid(), Guid.NewGuid(), null, "You are a helpful assistant.",
        [new ChatTurn(MessageRole.User, $"Question {i}: what do lizards eat in the desert at night?")], null, null, maxTokens))
    .ToList();

var oneShot = new LlamaCliEngine(options, installation, NullLogger<LlamaCliEngine>.Instance);
await using var server = new LlamaServerEngine(serverOptions, installation, NullLogger<LlamaServerEngine>.Instance);
await server.StartAsync(CancellationToken.None);
var baseAddress = await server.WaitUntilReadyAsync(CancellationToken.None);
using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
// llama-server refuses requests without the key the engine started it with.
http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", server.ApiKey);

// Warm-up: the first requests pay for page cache and allocations. A failure here counts as any other.
var warmUpFailures = new[]
{
    await Measure.EngineAsync(server, prompts[0]),
    await Measure.DirectAsync(http, baseAddress, prompts[0], options),
    await Measure.EngineAsync(oneShot, prompts[0]),
}.Count(s => s is null);

var results = new List<(string Name, int Concurrency, Summary Summary)>();
foreach (var concurrency in new[] { 1, Concurrency })
{
    results.Add(("one-shot (llama-completion)", concurrency, await Measure.RunAsync(prompts, concurrency, p => Measure.EngineAsync(oneShot, p))));
    results.Add(("managed server (engine)", concurrency, await Measure.RunAsync(prompts, concurrency, p => Measure.EngineAsync(server, p))));
    results.Add(("llama-server direct HTTP", concurrency, await Measure.RunAsync(prompts, concurrency, p => Measure.DirectAsync(http, baseAddress, p, options))));
}

Console.WriteLine($"{"",-30} {"at once",7} {"TTFT p50",10} {"TTFT mean",10} {"total p50",10} {"total mean",11} {"tokens",7} {"failed",6}");
foreach (var (name, concurrency, s) in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name,-30} {concurrency,7} {s.FirstTokenP50,8:F1}ms {s.FirstTokenMean,8:F1}ms {s.TotalP50,8:F1}ms {s.TotalMean,9:F1}ms {s.TokensMean,7:F1} {s.Failures,6}"));
}

Console.WriteLine();
foreach (var concurrency in new[] { 1, Concurrency })
{
    var cli = results.Single(r => r.Concurrency == concurrency && r.Name.StartsWith("one-shot", StringComparison.Ordinal)).Summary;
    var managed = results.Single(r => r.Concurrency == concurrency && r.Name.StartsWith("managed", StringComparison.Ordinal)).Summary;
    var direct = results.Single(r => r.Concurrency == concurrency && r.Name.StartsWith("llama-server", StringComparison.Ordinal)).Summary;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{concurrency} at once: one-shot TTFT / managed TTFT = {cli.FirstTokenP50 / managed.FirstTokenP50:F1}x; " +
        $"managed over direct: TTFT {managed.FirstTokenP50 - direct.FirstTokenP50:+0.0;-0.0} ms, total {managed.TotalP50 - direct.TotalP50:+0.0;-0.0} ms (p50)"));
}

var failed = warmUpFailures + results.Sum(r => r.Summary.Failures);
Console.WriteLine();
Console.WriteLine($"Failed requests (warm-up included): {failed}; no targets judged");
return failed == 0 ? 0 : 1;

internal sealed record Sample(double FirstTokenMs, double TotalMs, int Tokens);

internal sealed record Summary(double FirstTokenP50, double FirstTokenMean, double TotalP50, double TotalMean, double TokensMean,
    int Failures)
{
    public static Summary Of(IReadOnlyList<Sample> samples, int failures)
    {
        if (samples.Count == 0)
        {
            return new Summary(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, failures);
        }

        static double P50(IEnumerable<double> values)
        {
            var sorted = values.Order().ToList();
            return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
        }

        return new Summary(P50(samples.Select(s => s.FirstTokenMs)), samples.Average(s => s.FirstTokenMs),
            P50(samples.Select(s => s.TotalMs)), samples.Average(s => s.TotalMs), samples.Average(s => s.Tokens), failures);
    }
}

internal static class Measure
{
    public static async Task<Summary> RunAsync(IReadOnlyList<InferenceRequest> prompts, int concurrency,
        Func<InferenceRequest, Task<Sample?>> run)
    {
        var samples = new List<Sample>();
        var failures = 0;
        using var gate = new SemaphoreSlim(concurrency);
        await Task.WhenAll(prompts.Select(async prompt =>
        {
            await gate.WaitAsync();
            try
            {
                if (await run(prompt) is { } sample)
                {
                    lock (samples)
                    {
                        samples.Add(sample);
                    }
                }
                else
                {
                    Interlocked.Increment(ref failures);
                }
            }
            finally
            {
                gate.Release();
            }
        }));
        return Summary.Of(samples, failures);
    }

    /// <summary>One answer from the engine; null (failed) on an engine error or an answer that did not complete.</summary>
    public static async Task<Sample?> EngineAsync(IInferenceEngine engine, InferenceRequest request)
    {
        var started = Stopwatch.GetTimestamp();
        double? first = null;
        int? tokens = null;
        try
        {
            await foreach (var update in engine.GenerateAsync(request with { RequestId = Guid.NewGuid() }, CancellationToken.None))
            {
                if (update is InferenceDelta)
                {
                    first ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
                else if (update is InferenceCompleted completed)
                {
                    tokens = completed.CompletionTokens;
                }
            }
        }
        catch (InferenceFailedException ex)
        {
            Console.Error.WriteLine($"engine request failed: {ex.Message}");
            return null;
        }

        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return tokens is { } counted ? new Sample(first ?? total, total, counted) : null;
    }

    /// <summary>
    /// The same request as the engine sends, straight to llama-server, reading the SSE stream; null (failed) on an error
    /// status or a stream that ended before [DONE]. Sent once, on a connection of its own (llama-server closes the
    /// connection after a streamed answer, and a request sent on it meanwhile would get no response).
    /// </summary>
    public static async Task<Sample?> DirectAsync(HttpClient http, Uri baseAddress, InferenceRequest request, LlamaCppOptions options)
    {
        var body = new JsonObject
        {
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = request.SystemPrompt },
                new JsonObject { ["role"] = "user", ["content"] = request.Turns[^1].Content }),
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
            ["max_tokens"] = request.MaxTokens,
            ["temperature"] = options.Temperature,
            ["top_p"] = options.TopP,
            ["cache_prompt"] = true,
            ["seed"] = options.Seed,
        };
        var started = Stopwatch.GetTimestamp();
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, "v1/chat/completions"))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
            Headers = { ConnectionClose = true },
        };
        try
        {
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
            if (!response.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"llama-server answered HTTP {(int)response.StatusCode}");
                return null;
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            double? first = null;
            var tokens = 0;
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("data: [DONE]", StringComparison.Ordinal))
                {
                    var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    return new Sample(first ?? total, total, tokens);
                }

                if (line.Contains("\"content\":\"", StringComparison.Ordinal))
                {
                    first ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    tokens++;
                }
            }

            Console.Error.WriteLine("llama-server's stream ended before [DONE]");
            return null;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            Console.Error.WriteLine($"llama-server request failed: {ex.Message}");
            return null;
        }
    }
}
