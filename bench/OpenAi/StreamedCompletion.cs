using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace MeatLizard.Bench.OpenAi;

/// <summary>
/// One streamed chat completion as a client sees it: time to the first text, time to [DONE], text pieces, and the
/// longest wait between two pieces (0 with a single piece).
/// </summary>
internal sealed record Sample(double FirstTokenMs, double TotalMs, int Pieces, double LargestGapMs);

/// <summary>
/// An OpenAI-compatible endpoint to send to: its chat completions address and the headers it needs.
/// <paramref name="closesAfterStreaming"/>: the server closes the connection after every streamed answer although it
/// advertises keep-alive (llama-server), so a request sent on that connection before the close is seen gets no response
/// at all. Each request then asks for a connection of its own (<c>Connection: close</c>) rather than being sent again
/// when it fails: every request is sent once, and one that ends early counts as failed.
/// </summary>
internal sealed class CompletionTarget(string name, Uri completionsAddress, string bearer,
    IReadOnlyDictionary<string, string>? headers = null, bool closesAfterStreaming = false)
{
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);

    public string Name => name;

    /// <summary>Why requests failed, and how many times each.</summary>
    public IReadOnlyDictionary<string, int> Failures => _failures;

    private HttpRequestMessage Request(byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, completionsAddress)
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        request.Headers.ConnectionClose = closesAfterStreaming;
        foreach (var (key, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(key, value);
        }

        return request;
    }

    /// <summary>
    /// Sends <paramref name="body"/> once and reads the SSE stream to <c>data: [DONE]</c>. Null when the request failed:
    /// an error status, an error event, no text (nor tool call) at all, no chunk with a finish_reason, a stream cut before [DONE], a
    /// response that ended before its headers, or any other exception. Nothing is sent again: a benchmark that retried
    /// what ended early would report the second attempt's figures and hide the failure.
    /// </summary>
    public async Task<Sample?> SendAsync(HttpClient http, byte[] body, CancellationToken cancellationToken)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            using var request = Request(body);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return Failed($"HTTP {(int)response.StatusCode}");
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
            double? first = null;
            var last = 0.0;
            var largestGap = 0.0;
            var pieces = 0;
            var finished = false;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (!line.StartsWith("data:", StringComparison.Ordinal))
                {
                    continue;
                }

                var data = line.AsSpan(5).Trim();
                if (data.SequenceEqual("[DONE]"))
                {
                    return pieces == 0 ? Failed("no text before [DONE]")
                        : !finished ? Failed("no finish_reason before [DONE]")
                        : new Sample(first!.Value, Stopwatch.GetElapsedTime(started).TotalMilliseconds, pieces, largestGap);
                }

                using var chunk = JsonDocument.Parse(data.ToString());
                if (chunk.RootElement.TryGetProperty("error", out _))
                {
                    return Failed("an error event");
                }

                if (chunk.RootElement.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
                    && choices[0].TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
                {
                    finished = true;
                }

                if (chunk.RootElement.TryGetProperty("choices", out choices) && choices.GetArrayLength() > 0
                    && choices[0].TryGetProperty("delta", out var delta)
                    && ((delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
                         && content.GetString() is { Length: > 0 })
                        || (delta.TryGetProperty("tool_calls", out var calls) && calls.GetArrayLength() > 0)))
                {
                    var now = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    first ??= now;
                    largestGap = pieces == 0 ? 0 : Math.Max(largestGap, now - last);
                    last = now;
                    pieces++;
                }
            }

            return Failed("stream ended before [DONE]");
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ResponseEnded)
        {
            return Failed("response ended before its headers (connection closed by the server)");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or OperationCanceledException)
        {
            var inner = e.InnerException ?? e;
            return Failed($"{e.GetType().Name}: {inner.Message}");
        }
    }

    private Sample? Failed(string reason)
    {
        _failures.AddOrUpdate(reason, 1, (_, count) => count + 1);
        return null;
    }
}
