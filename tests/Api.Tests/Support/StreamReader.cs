using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace MeatLizard.Api.Tests.Support;

/// <summary>Collects a session's stream events from a WebSocket in the background.</summary>
public sealed class SessionStream : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();
    private readonly CancellationTokenSource _stop = new();
    private Task _pump = Task.CompletedTask;

    public static async Task<SessionStream> OpenAsync(Uri baseAddress, Guid chatId, string accessToken)
    {
        var stream = new SessionStream();
        var uri = new UriBuilder(new Uri(baseAddress, $"api/v1/sessions/{chatId}/stream")) { Scheme = "ws" }.Uri;
        stream._socket.Options.SetRequestHeader("Authorization", $"Bearer {accessToken}");
        await stream._socket.ConnectAsync(uri, CancellationToken.None);
        stream._pump = stream.PumpAsync();
        return stream;
    }

    /// <summary>The next event that satisfies <paramref name="match"/>; everything before it is kept in <see cref="Seen"/>.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
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

    public List<JsonElement> Seen { get; } = [];

    /// <summary>The server has not closed the stream.</summary>
    public bool IsOpen => !_pump.IsCompleted && _socket.State == WebSocketState.Open;

    /// <summary>Waits for the server to close the stream; the close status it gave, or null when it did not close in time.</summary>
    public async Task<WebSocketCloseStatus?> ClosedAsync(TimeSpan timeout)
    {
        await Task.WhenAny(_pump, Task.Delay(timeout));
        return _pump.IsCompleted ? _socket.CloseStatus : null;
    }

    private async Task PumpAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, _stop.Token);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                await _events.Writer.WriteAsync(JsonDocument.Parse(Encoding.UTF8.GetString(message.ToArray())).RootElement.Clone());
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pump;
        _socket.Dispose();
        _stop.Dispose();
    }
}
