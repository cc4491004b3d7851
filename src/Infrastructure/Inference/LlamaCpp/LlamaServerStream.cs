using System.Text.Json;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// Reads one streamed answer from llama-server's /v1/chat/completions (server-sent events: "data: {chunk}" lines,
/// then "data: [DONE]"): deltas as they come, then one <see cref="InferenceCompleted"/> with the counts from the
/// usage chunk and llama-server's own timings (the last chunk's "timings"). Disposing it closes the connection, which makes llama-server stop generating.
/// </summary>
public sealed class LlamaServerStream(HttpClient http, Func<HttpRequestMessage> newRequest, CancellationToken cancellationToken)
    : IAsyncDisposable
{
    private HttpResponseMessage? _response;
    private StreamReader? _reader;
    private string _finishReason = "stop";
    private int _promptTokens;
    private int _completionTokens;
    private int _deltaTokens;
    private bool _timed;
    private bool _done;

    public double PromptMilliseconds { get; private set; }

    public double PredictedMilliseconds { get; private set; }

    /// <summary>Prompt tokens llama-server took from its cache instead of evaluating them.</summary>
    public int CachedTokens { get; private set; }

    /// <summary>The next update, or null after the completion was returned.</summary>
    public async Task<InferenceUpdate?> NextAsync()
    {
        if (_done)
        {
            return null;
        }

        _reader ??= await OpenAsync();
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            // Lines already buffered are returned without looking at the token.
            cancellationToken.ThrowIfCancellationRequested();
            if (line.StartsWith("error:", StringComparison.Ordinal))
            {
                throw new InferenceFailedException($"llama-server: {ErrorMessage(line["error:".Length..])}");
            }

            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line["data:".Length..].Trim();
            if (data == "[DONE]")
            {
                break;
            }

            if (Read(data) is { } delta)
            {
                return delta;
            }
        }

        _done = true;
        return new InferenceCompleted(_promptTokens, Math.Max(_completionTokens, _deltaTokens), _finishReason,
            _timed ? new InferenceTimings(PromptMilliseconds, PredictedMilliseconds, CachedTokens) : null);
    }

    public async ValueTask DisposeAsync()
    {
        _reader?.Dispose();
        _response?.Dispose();
        await Task.CompletedTask;
    }

    private async Task<StreamReader> OpenAsync()
    {
        try
        {
            _response = await SendAsync();
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ResponseEnded)
        {
            // A pooled connection that llama-server had just closed: nothing was answered, so sending again is safe.
            _response = await SendAsync();
        }

        if (!_response.IsSuccessStatusCode)
        {
            var body = await _response.Content.ReadAsStringAsync(cancellationToken);
            throw new InferenceFailedException(
                $"llama-server answered {(int)_response.StatusCode}: {ErrorMessage(body)}");
        }

        return new StreamReader(await _response.Content.ReadAsStreamAsync(cancellationToken));
    }

    private async Task<HttpResponseMessage> SendAsync()
    {
        using var request = newRequest();
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    private InferenceDelta? Read(string data)
    {
        using var document = JsonDocument.Parse(data);
        var root = document.RootElement;
        if (root.TryGetProperty("error", out _))
        {
            throw new InferenceFailedException($"llama-server: {ErrorMessage(data)}");
        }

        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            _promptTokens = Int(usage, "prompt_tokens") ?? _promptTokens;
            _completionTokens = Int(usage, "completion_tokens") ?? _completionTokens;
        }

        if (root.TryGetProperty("timings", out var timings) && timings.ValueKind == JsonValueKind.Object)
        {
            PromptMilliseconds = Double(timings, "prompt_ms") ?? PromptMilliseconds;
            PredictedMilliseconds = Double(timings, "predicted_ms") ?? PredictedMilliseconds;
            CachedTokens = Int(timings, "cache_n") ?? CachedTokens;
            _timed = true;
        }

        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array
            || choices.GetArrayLength() == 0)
        {
            return null;
        }

        var choice = choices[0];
        if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
        {
            _finishReason = finish.GetString()!;
        }

        if (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content)
            && content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 } text)
        {
            _deltaTokens++;
            return new InferenceDelta(text, 1);
        }

        return null;
    }

    /// <summary>llama-server's error message ({"error": {"message": ...}}), or the text itself, on one line.</summary>
    private static string ErrorMessage(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var error = root.TryGetProperty("error", out var inner) ? inner : root;
            if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message))
            {
                return message.GetString() ?? body;
            }
        }
        catch (JsonException)
        {
        }

        return body.ReplaceLineEndings(" ").Trim();
    }

    private static int? Int(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.TryGetInt32(out var number) ? number : null;

    private static double? Double(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.TryGetDouble(out var number) ? number : null;
}
