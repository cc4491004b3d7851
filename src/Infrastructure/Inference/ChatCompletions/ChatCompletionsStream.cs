using System.Diagnostics;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Telemetry;

namespace MeatLizard.Infrastructure.Inference.ChatCompletions;

/// <summary>
/// Reads one streamed answer from an OpenAI-style /v1/chat/completions (server-sent events: "data: {chunk}" lines,
/// then "data: [DONE]"): deltas as they come, then one <see cref="InferenceCompleted"/> with the counts from the
/// usage chunk, the tool calls the answer asked for (their deltas gathered by index, as OpenAI streams them) and, from
/// llama-server, its own timings (the last chunk's "timings"). Disposing it closes the
/// connection, which makes the server stop generating. <paramref name="server"/> names the server in failures
/// ("llama-server"); they carry the server's own error message, never the answer's text.
/// </summary>
public sealed class ChatCompletionsStream(
    HttpClient http, Func<HttpRequestMessage> newRequest, string server, CancellationToken cancellationToken)
    : IAsyncDisposable
{
    /// <summary>The longest server error message passed on: enough for any real one, not a page of HTML.</summary>
    private const int MaxErrorLength = 300;

    private const string TraceParentHeader = "traceparent";

    private HttpResponseMessage? _response;
    private Activity? _activity;
    private StreamReader? _reader;
    private string? _finishReason;
    private int _promptTokens;
    private int _completionTokens;
    private int _deltaTokens;
    private bool _timed;
    private bool _done;
    private bool _began;
    private SortedDictionary<int, (string? Id, System.Text.StringBuilder Name, System.Text.StringBuilder Arguments)>? _calls;

    public double PromptMilliseconds { get; private set; }

    public double PredictedMilliseconds { get; private set; }

    /// <summary>Prompt tokens llama-server took from its cache instead of evaluating them.</summary>
    public int CachedTokens { get; private set; }

    /// <summary>
    /// Called once, as the answer itself begins (its first text or piece of a tool call): an answer of tool calls only
    /// gives its first update when it ends, and whoever waits for the server to begin must know sooner.
    /// </summary>
    public Action? Began { get; init; }

    /// <summary>The next update, or null after the completion was returned.</summary>
    public async Task<InferenceUpdate?> NextAsync()
    {
        if (_done)
        {
            return null;
        }

        _reader ??= await OpenAsync();
        var finished = false;
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            // Lines already buffered are returned without looking at the token.
            cancellationToken.ThrowIfCancellationRequested();
            if (line.StartsWith("error:", StringComparison.Ordinal))
            {
                throw new InferenceFailedException($"{server}: {ErrorMessage(line["error:".Length..])}");
            }

            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line["data:".Length..].Trim();
            if (data == "[DONE]")
            {
                finished = true;
                break;
            }

            if (Read(data) is { } delta)
            {
                return delta;
            }
        }

        // A stream cut without [DONE] after the last choice finished lost no text; one cut before did.
        if (!finished && _finishReason is null)
        {
            throw new InferenceFailedException($"{server} ended the stream before the answer was finished.");
        }

        _done = true;
        return new InferenceCompleted(_promptTokens, Math.Max(_completionTokens, _deltaTokens), _finishReason ?? "stop",
            _timed ? new InferenceTimings(PromptMilliseconds, PredictedMilliseconds, CachedTokens) : null)
        {
            ToolCalls = ToolCalls(),
        };
    }

    /// <summary>The tool calls gathered from the deltas, each checked; null when the answer asked for none.</summary>
    private IReadOnlyList<Domain.Messages.ToolCall>? ToolCalls()
    {
        if (_calls is null)
        {
            return null;
        }

        try
        {
            return Domain.Messages.ToolCall.Several([.. _calls.Values.Select(c => Domain.Messages.ToolCall.Create(
                c.Id ?? $"call_{Guid.NewGuid():N}", c.Name.ToString(), c.Arguments.ToString()))]);
        }
        catch (Domain.Common.DomainException ex)
        {
            throw new InferenceFailedException($"{server} asked for a tool call that cannot be passed on ({ex.Message})");
        }
    }

    /// <summary>
    /// Gathers a chunk's tool call pieces: the first piece of a call (by its index) brings its id and name, later ones
    /// more of its arguments.
    /// </summary>
    private void GatherToolCalls(JsonElement calls)
    {
        foreach (var piece in calls.EnumerateArray())
        {
            if (piece.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var index = Int(piece, "index") ?? 0;
            _calls ??= [];
            if (!_calls.TryGetValue(index, out var call))
            {
                if (_calls.Count >= Domain.Messages.ToolCall.MaxPerAnswer)
                {
                    throw new InferenceFailedException($"{server} asked for more than {Domain.Messages.ToolCall.MaxPerAnswer} tool calls.");
                }

                call = (null, new System.Text.StringBuilder(), new System.Text.StringBuilder());
            }

            if (piece.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
            {
                call.Id = id.GetString();
            }

            if (piece.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
            {
                if (function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    call.Name.Append(name.GetString());
                }

                if (function.TryGetProperty("arguments", out var arguments) && arguments.ValueKind == JsonValueKind.String)
                {
                    call.Arguments.Append(arguments.GetString());
                    if (call.Arguments.Length > Domain.Messages.ToolCall.MaxArgumentsLength)
                    {
                        throw new InferenceFailedException($"{server} wrote tool call arguments longer than {Domain.Messages.ToolCall.MaxArgumentsLength} characters.");
                    }
                }
            }

            _calls[index] = call;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reader?.Dispose();
        _response?.Dispose();
        _activity?.Dispose();
        await Task.CompletedTask;
    }

    /// <summary>
    /// The server's error message from an error body (<c>{"error": {"message": …}}</c>, <c>{"error": "…"}</c>), or the
    /// text itself, on one line and cut to a few hundred characters.
    /// </summary>
    public static string ErrorMessage(string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var message = body;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var error = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var inner) ? inner : root;
            if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var text)
                && text.ValueKind == JsonValueKind.String)
            {
                message = text.GetString()!;
            }
            else if (error.ValueKind == JsonValueKind.String)
            {
                message = error.GetString()!;
            }
        }
        catch (JsonException)
        {
        }

        message = message.ReplaceLineEndings(" ").Trim();
        return message.Length <= MaxErrorLength ? message : message[..MaxErrorLength] + "…";
    }

    private async Task<StreamReader> OpenAsync()
    {
        // One span for the whole answer, from the request to the stream's end (or its disposal).
        _activity = InferenceActivities.Source.StartActivity("chat completions", ActivityKind.Client);
        _activity?.SetTag("server.name", server);
        try
        {
            _response = await SendAsync();
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ResponseEnded)
        {
            // A pooled connection that the server had just closed: nothing was answered, so sending again is safe.
            _response = await SendAsync();
        }

        if (!_response.IsSuccessStatusCode)
        {
            var body = await _response.Content.ReadAsStringAsync(cancellationToken);
            throw new UpstreamAnsweredException(_response.StatusCode, RetryAfter(_response),
                $"{server} answered {(int)_response.StatusCode}: {ErrorMessage(body)}");
        }

        return new StreamReader(await _response.Content.ReadAsStreamAsync(cancellationToken));
    }

    /// <summary>How long the server asked to be left alone (<c>Retry-After</c>: seconds or a date); null when it did not say.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
            _ => null,
        };

    private async Task<HttpResponseMessage> SendAsync()
    {
        using var request = newRequest();
        // The server's own logs and traces (llama-server, vLLM, …) join the message's trace. HttpClient sends the current
        // activity's context too, unless an operator turned its propagation off; it adds none when one is set.
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } current && !request.Headers.Contains(TraceParentHeader))
        {
            request.Headers.TryAddWithoutValidation(TraceParentHeader, current.Id);
            if (!string.IsNullOrEmpty(current.TraceStateString))
            {
                request.Headers.TryAddWithoutValidation("tracestate", current.TraceStateString);
            }
        }

        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    private InferenceDelta? Read(string data)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(data);
        }
        catch (JsonException ex)
        {
            // Not the chunk's text: it may hold part of the answer.
            throw new InferenceFailedException($"{server} sent a stream that is not server-sent chat chunks (bad JSON).", ex);
        }

        using (document)
        {
            return Read(document.RootElement, data);
        }
    }

    private InferenceDelta? Read(JsonElement root, string data)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InferenceFailedException($"{server} sent a stream that is not server-sent chat chunks (not an object).");
        }

        if (root.TryGetProperty("error", out _))
        {
            throw new InferenceFailedException($"{server}: {ErrorMessage(data)}");
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
        if (choice.ValueKind != JsonValueKind.Object)
        {
            throw new InferenceFailedException($"{server} sent a stream that is not server-sent chat chunks (bad choice).");
        }

        if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
        {
            _finishReason = finish.GetString()!;
        }

        if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object
            && delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            Begin();
            _deltaTokens++;
            GatherToolCalls(calls);
        }

        if (delta.ValueKind == JsonValueKind.Object
            && delta.TryGetProperty("content", out var content)
            && content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 } text)
        {
            Begin();
            _deltaTokens++;
            return new InferenceDelta(text, 1);
        }

        return null;
    }

    private void Begin()
    {
        if (!_began)
        {
            _began = true;
            Began?.Invoke();
        }
    }

    private static int? Int(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
        && value.TryGetInt32(out var number) ? number : null;

    private static double? Double(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
        && value.TryGetDouble(out var number) ? number : null;
}

/// <summary>
/// The server refused the request with an HTTP status (nothing was answered): with the status, and how long it asked
/// to be left alone when it said (<c>Retry-After</c>).
/// </summary>
public sealed class UpstreamAnsweredException(System.Net.HttpStatusCode status, TimeSpan? retryAfter, string message)
    : InferenceFailedException(message)
{
    public System.Net.HttpStatusCode Status { get; } = status;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>A status that says "not now" rather than "never": too many requests, a timeout, a server error.</summary>
    public bool IsPassing => (int)Status is 408 or 429 or 500 or 502 or 503 or 504;
}
