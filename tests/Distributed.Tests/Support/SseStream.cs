using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Channels;

namespace MeatLizard.Distributed.Tests.Support;

/// <summary>A session's server-sent events from one API instance, collected in the background.</summary>
public sealed class SseStream : IAsyncDisposable
{
    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http;
    private Task _pump = Task.CompletedTask;

    private SseStream(HttpClient http) => _http = http;

    public List<JsonElement> Seen { get; } = [];

    /// <summary>Completes when the stream has ended: closed by the server, broken, or disposed.</summary>
    public Task Ended => _pump;

    /// <summary>Returns once the API has answered with the stream's headers (the subscription is then in place).</summary>
    public static async Task<SseStream> OpenAsync(Uri api, Guid chatId, string accessToken)
    {
        var http = new HttpClient { BaseAddress = api, Timeout = Timeout.InfiniteTimeSpan };
        var stream = new SseStream(http);
        var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/sessions/{chatId}/stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stream._stop.Token);
        response.EnsureSuccessStatusCode();
        stream._pump = stream.PumpAsync(response);
        return stream;
    }

    /// <summary>The next event that satisfies <paramref name="match"/>; everything read is kept in <see cref="Seen"/>.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var next = await _events.Reader.ReadAsync(cts.Token);
            Seen.Add(next);
            if (match(next))
            {
                return next;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task PumpAsync(HttpResponseMessage response)
    {
        using (response)
        {
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(_stop.Token);
                using var reader = new StreamReader(body);
                while (await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    if (line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        await _events.Writer.WriteAsync(JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone());
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
            {
            }
        }

        _events.Writer.TryComplete();
    }
}
