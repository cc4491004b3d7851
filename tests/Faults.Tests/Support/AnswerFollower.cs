using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>How an accepted web message's answer ended, as the client following its chat's live stream saw it.</summary>
public enum AnswerSeen
{
    /// <summary>The model's answer arrived as a <c>message</c> event (its source <c>model</c>).</summary>
    Model,

    /// <summary>A notice or a fallback reply arrived as a <c>message</c> event (any other source).</summary>
    Notice,

    /// <summary>Not on the stream: in the newest page read on reconnecting, as the web app catches up on every open.</summary>
    InPageOnReconnect,

    /// <summary>Never seen within the round's time, though the database holds the answer: a follower-visible loss.</summary>
    Unseen,

    /// <summary>Never seen, and the database holds no answer either: the loss check's to count.</summary>
    Unanswered,
}

/// <summary>
/// A web client following one chat's live events as Server-Sent Events of <c>/api/v1/sessions/{id}/stream</c> (the
/// endpoint and events the web app follows), opened before the chat's first send. When the stream breaks (its API
/// instance died, the connection was cut) it reconnects as the web app does: after 250 ms doubling up to 10 s, to the
/// other instance (a browser's next connection lands where the balancer sends it), and on every open reads the newest
/// page of messages (the web app's <c>loadNewest</c>): the product has no Last-Event-ID; a stream starts with a
/// snapshot of the answer in progress, and what finished meanwhile is in the page.
/// </summary>
public sealed class AnswerFollower : IDisposable
{
    /// <summary>What the web app reads on every open (store.ts PageSize).</summary>
    private const int PageSize = 50;

    private readonly HttpClient[] _clients;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<Guid, (string Source, int Connection, bool FromPage)> _seen = new();
    private readonly ConcurrentDictionary<Guid, int> _expected = new();
    private readonly ConcurrentQueue<string> _connections = new();
    private Task _following = Task.CompletedTask;
    private int _connection;

    private AnswerFollower(IReadOnlyList<Uri> apis, string accessToken, Guid chat, int index)
    {
        Chat = chat;
        Index = index;
        // No timeout: a stream is read for the whole minute; the stop token ends it.
        _clients = [.. apis.Select(api => new HttpClient
        {
            BaseAddress = api,
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", accessToken) },
        })];
    }

    public Guid Chat { get; }

    /// <summary>The chat's index in its traffic (the one its sends' texts name).</summary>
    public int Index { get; }

    /// <summary>How many times the stream was opened; read before a send, it tells whether the stream broke since.</summary>
    public int Connection => Volatile.Read(ref _connection);

    /// <summary>The accepted sends' requests, each with the connection that was open when it was sent.</summary>
    public IReadOnlyDictionary<Guid, int> Expected => _expected;

    /// <summary>Each connection's opening and ending, with the time and the instance, for a failure's message.</summary>
    public string History => string.Join("; ", _connections);

    /// <summary>Opens the stream at instance <paramref name="at"/> and returns once it is open (the chat's events subscribed).</summary>
    public static async Task<AnswerFollower> StartAsync(IReadOnlyList<Uri> apis, string accessToken, Guid chat, int index, int at)
    {
        var follower = new AnswerFollower(apis, accessToken, chat, index);
        follower._following = Task.Run(() => follower.FollowAsync(at));
        try
        {
            await follower._opened.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            follower.Dispose();
            throw new TimeoutException($"Chat {index}'s stream did not open within 60 s: {follower.History}");
        }

        return follower;
    }

    /// <summary>The message sent as <paramref name="request"/> was accepted while connection <paramref name="connectionAtSend"/> was the last opened.</summary>
    public void Expect(Guid request, int connectionAtSend) => _expected[request] = connectionAtSend;

    /// <summary>How the answer to <paramref name="request"/> reached this follower, if it did.</summary>
    public (string Source, int Connection, bool FromPage)? SeenFor(Guid request) =>
        _seen.TryGetValue(request, out var seen) ? seen : null;

    /// <summary>Whether every accepted message's answer has been seen.</summary>
    public bool SawAll => _expected.Keys.All(_seen.ContainsKey);

    private async Task FollowAsync(int at)
    {
        var stop = _stop.Token;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/sessions/{Chat}/stream");
                request.Headers.Accept.ParseAdd("text/event-stream");
                // An instance that takes the connection and never answers is left after 30 s, as a browser gives up;
                // once open, the stream is read as long as it lasts.
                using var opening = CancellationTokenSource.CreateLinkedTokenSource(stop);
                opening.CancelAfter(TimeSpan.FromSeconds(30));
                using var response = await _clients[at].SendAsync(request, HttpCompletionOption.ResponseHeadersRead, opening.Token);
                opening.CancelAfter(Timeout.InfiniteTimeSpan);
                if (!response.IsSuccessStatusCode)
                {
                    Note(at, $"refused {(int)response.StatusCode}");
                }
                else
                {
                    // The headers come with the stream's first write, after the server subscribed to the chat's events.
                    var connection = Interlocked.Increment(ref _connection);
                    attempt = 0;
                    Note(at, $"open #{connection}");
                    await using var body = await response.Content.ReadAsStreamAsync(stop);
                    using var reader = new StreamReader(body, Encoding.UTF8);
                    await CatchUpAsync(at, connection, stop);
                    _opened.TrySetResult();
                    await ReadEventsAsync(reader, connection, stop);
                    Note(at, $"#{connection} ended by the server");
                }
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                Note(at, $"broke: {(e as HttpRequestException)?.HttpRequestError.ToString() ?? e.GetType().Name}");
            }

            at = (at + 1) % _clients.Length;
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10_000, 250 * Math.Pow(2, attempt))), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The newest page, as the web app reads it on every open; a failure is the connection failing again.</summary>
    private async Task CatchUpAsync(int at, int connection, CancellationToken stop)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var page = await _clients[at].GetFromJsonAsync<JsonElement>(
                $"api/v1/sessions/{Chat}/messages?limit={PageSize}", timeout.Token);
            foreach (var message in page.GetProperty("messages").EnumerateArray())
            {
                Saw(message, connection, fromPage: true);
            }
        }
        catch (Exception e) when (!stop.IsCancellationRequested && e is HttpRequestException or TaskCanceledException or JsonException)
        {
            Note(at, "newest page not read");
        }
    }

    private async Task ReadEventsAsync(StreamReader reader, int connection, CancellationToken stop)
    {
        var (type, data) = ((string?)null, new StringBuilder());
        while (await reader.ReadLineAsync(stop) is { } line)
        {
            if (line.Length == 0)
            {
                if (type == "message" && data.Length > 0)
                {
                    using var chatEvent = JsonDocument.Parse(data.ToString());
                    if (chatEvent.RootElement.TryGetProperty("message", out var message))
                    {
                        Saw(message, connection, fromPage: false);
                    }
                }

                (type, _) = (null, data.Clear());
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Append(line["data: ".Length..]);
            }
        }
    }

    private void Saw(JsonElement message, int connection, bool fromPage)
    {
        if (message.GetProperty("role").GetString() is { } role && role.Equals("assistant", StringComparison.OrdinalIgnoreCase)
            && message.TryGetProperty("requestId", out var request) && request.ValueKind == JsonValueKind.String)
        {
            _seen.TryAdd(request.GetGuid(), (message.GetProperty("source").GetString()!, connection, fromPage));
        }
    }

    private void Note(int at, string what) =>
        _connections.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} API #{at + 1} {what}"));

    /// <summary>Closes the stream (the page left) and waits until its reading ended.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _following;
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        _stop.Dispose();
    }
}
