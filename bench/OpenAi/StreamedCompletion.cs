using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace MeatLizard.Bench.OpenAi;

/// <summary>One streamed chat completion as a client sees it: time to the first text, time to [DONE], text pieces.</summary>
internal sealed record Sample(double FirstTokenMs, double TotalMs, int Pieces);

/// <summary>An OpenAI-compatible endpoint to send to: its chat completions address and the headers it needs.</summary>
internal sealed class CompletionTarget(string name, Uri completionsAddress, string bearer,
    IReadOnlyDictionary<string, string>? headers = null)
{
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);

    public string Name => name;

    /// <summary>Why requests failed, and how many times each.</summary>
    public IReadOnlyDictionary<string, int> Failures => _failures;

    /// <summary>
    /// Sends <paramref name="body"/> and reads the SSE stream to <c>data: [DONE]</c>. Null when the request failed: an
    /// error status, an error event, no text at all, a stream cut before [DONE], or an exception.
    /// </summary>
    private HttpRequestMessage Request(byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, completionsAddress)
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        foreach (var (key, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(key, value);
        }

        return request;
    }

    public async Task<Sample?> SendAsync(HttpClient http, byte[] body, CancellationToken cancellationToken)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            HttpResponseMessage sent;
            using var request = Request(body);
            try
            {
                sent = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            }
            catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ResponseEnded)
            {
                // llama-server closes the connection after every streamed answer although it advertises keep-alive:
                // a request sent on it before the close is seen gets no response at all. Nothing was answered, so a
                // client sends it again (as OpenAI's SDKs and MeatLizard's own engine do); the time counts.
                using var again = Request(body);
                sent = await http.SendAsync(again, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            }

            using var response = sent;
            if (!response.IsSuccessStatusCode)
            {
                return Failed($"HTTP {(int)response.StatusCode}");
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
            double? first = null;
            var pieces = 0;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (!line.StartsWith("data:", StringComparison.Ordinal))
                {
                    continue;
                }

                var data = line.AsSpan(5).Trim();
                if (data.SequenceEqual("[DONE]"))
                {
                    return pieces == 0 ? Failed("no text before [DONE]") : new Sample(first!.Value, Stopwatch.GetElapsedTime(started).TotalMilliseconds, pieces);
                }

                using var chunk = JsonDocument.Parse(data.ToString());
                if (chunk.RootElement.TryGetProperty("error", out _))
                {
                    return Failed("an error event");
                }

                if (chunk.RootElement.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
                    && choices[0].TryGetProperty("delta", out var delta)
                    && delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
                    && content.GetString() is { Length: > 0 })
                {
                    first ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    pieces++;
                }
            }

            return Failed("stream ended before [DONE]");
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
