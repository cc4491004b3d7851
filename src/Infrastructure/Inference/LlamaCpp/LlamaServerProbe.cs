using System.Net;
using System.Text.Json;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// What a llama-server run says of itself: whether it is healthy yet (its <c>/health</c>, which needs no key), and
/// once it is, what its model can do: whether it writes tool calls, and an embedding model's vector length. Each
/// look-up of the model is short (5 s) and says "not known" rather than fail.
/// </summary>
internal sealed class LlamaServerProbe(HttpClient http)
{
    private static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan HealthPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Asks <c>/health</c> until it answers 200 (true), or the process exits, <paramref name="stopping"/> is cancelled
    /// or <paramref name="withinSeconds"/> pass (false).
    /// </summary>
    public async Task<bool> HealthyAsync(Task exited, Uri baseAddress, int withinSeconds, CancellationToken stopping)
    {
        var deadline = DateTime.UtcNow.AddSeconds(withinSeconds);
        while (!exited.IsCompleted && !stopping.IsCancellationRequested && DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(baseAddress, "health"), stopping);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(HealthPollInterval, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        return false;
    }

    /// <summary>The run with what its model can do filled in.</summary>
    public async Task<LlamaServerRun> DescribeAsync(LlamaServerRun run, bool embeddings, CancellationToken stopping) =>
        run with
        {
            TakesTools = !embeddings && await TakesToolsAsync(run, stopping),
            EmbeddingWidth = embeddings ? await EmbeddingWidthAsync(run, stopping) : null,
        };

    /// <summary>
    /// Whether the run's model writes tool calls: llama-server's <c>/props</c> says what the model's chat template can
    /// do (<c>chat_template_caps.supports_tool_calls</c>). A template without it makes llama-server ignore the tools, so
    /// the host must not say it takes them. Not known (an older llama-server, no answer): not taken.
    /// </summary>
    public async Task<bool> TakesToolsAsync(LlamaServerRun run, CancellationToken stopping) =>
        await AskAsync(run, "props", props => props.TryGetProperty("chat_template_caps", out var caps)
                                              && caps.ValueKind == JsonValueKind.Object
                                              && caps.TryGetProperty("supports_tool_calls", out var calls)
                                              && calls.ValueKind == JsonValueKind.True, stopping);

    /// <summary>
    /// The vector length of the run's model: llama-server's <c>/v1/models</c> gives its <c>meta.n_embd</c>. Not known (an
    /// older llama-server, no answer): null.
    /// </summary>
    public Task<int?> EmbeddingWidthAsync(LlamaServerRun run, CancellationToken stopping) =>
        AskAsync(run, "v1/models", models =>
            models.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array
            && data.GetArrayLength() > 0 && data[0].TryGetProperty("meta", out var meta)
            && meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("n_embd", out var width)
            && width.TryGetInt32(out var n) && n > 0
                ? n
                : (int?)null, stopping);

    /// <summary>
    /// What <paramref name="read"/> takes from the JSON the run answers at <paramref name="path"/> within 5 s; the
    /// default when it does not answer, or not with JSON.
    /// </summary>
    private async Task<T?> AskAsync<T>(LlamaServerRun run, string path, Func<JsonElement, T> read, CancellationToken stopping)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(AnswerWithin);
            using var ask = run.Request(HttpMethod.Get, path);
            using var response = await http.SendAsync(ask, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return default;
            }

            using var answer = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token),
                cancellationToken: timeout.Token);
            return read(answer.RootElement);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException
                                       || (ex is OperationCanceledException && !stopping.IsCancellationRequested))
        {
            return default;
        }
    }
}
