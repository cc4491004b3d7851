using System.Buffers;
using System.Net.WebSockets;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// Runs one WebSocket connection of a <see cref="DirectLink"/>, the same on both sides: each sends its hello (the last
/// envelope it received), then sends again what the other side's hello shows it missed, then what is enqueued as it
/// comes, with acks for what arrives once it is handled. Envelopes received for the first time go to <c>deliver</c>
/// with their delivery, which acknowledges them when handled; repeats, oversized frames and frames that are not the
/// relay's are dropped and counted, and the connection goes on. Returns when the connection ends, saying how
/// (<see cref="DirectConnectionEnd"/>); the link keeps what is unacknowledged for the next one.
/// </summary>
public sealed class DirectConnection(
    WebSocket socket, DirectLink link, Action<DirectFrame, DirectDelivery> deliver, DirectRelayCounters counters, int maxFrameBytes)
{
    private readonly TaskCompletionSource<long> _peerHello = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<DirectConnectionEnd> RunAsync(CancellationToken cancellationToken)
    {
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        link.Reconnected();
        var writing = WriteAsync(ending.Token);
        var reading = ReadAsync(ending.Token);
        try
        {
            await Task.WhenAny(writing, reading);
        }
        finally
        {
            await ending.CancelAsync();
            await Task.WhenAll(writing, reading).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (socket.State == WebSocketState.Open)
        {
            using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, closing.Token)
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        return reading.IsCompletedSuccessfully ? DirectConnectionEnd.Closed
            : cancellationToken.IsCancellationRequested ? DirectConnectionEnd.Ended
            : DirectConnectionEnd.Broken;
    }

    private async Task WriteAsync(CancellationToken cancellationToken)
    {
        await SendAsync(link.Hello().Write(), cancellationToken);
        var sentUpTo = await _peerHello.Task.WaitAsync(cancellationToken);
        while (true)
        {
            foreach (var (seq, frame) in link.WaitingAfter(sentUpTo))
            {
                await SendAsync(frame, cancellationToken);
                sentUpTo = seq;
            }

            if (link.TakeAckDue() is { } ack)
            {
                await SendAsync(DirectFrame.Ack(ack).Write(), cancellationToken);
            }

            await link.WaitForWorkAsync(cancellationToken);
        }
    }

    private ValueTask SendAsync(byte[] frame, CancellationToken cancellationToken) =>
        socket.SendAsync(frame.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var message = new ArrayBufferWriter<byte>(16 * 1024);
        try
        {
            while (true)
            {
                message.ResetWrittenCount();
                var oversized = false;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(chunk.AsMemory(), cancellationToken);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    // Past the limit the rest of the message is read and thrown away: the connection goes on.
                    oversized |= message.WrittenCount + result.Count > maxFrameBytes;
                    if (!oversized)
                    {
                        message.Write(chunk.AsSpan(0, result.Count));
                    }
                }
                while (!result.EndOfMessage);

                if (oversized)
                {
                    counters.Increment(DirectRelayDrop.Oversized);
                }
                else if (result.MessageType != WebSocketMessageType.Text || DirectFrame.Read(message.WrittenSpan) is not { } frame)
                {
                    counters.Increment(DirectRelayDrop.NotAFrame);
                }
                else
                {
                    Take(frame);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private void Take(DirectFrame frame)
    {
        switch (frame.Kind)
        {
            case DirectFrameKind.Hello:
                // Taken here, before the next frame is read: what follows is numbered as the hello says.
                if (!_peerHello.Task.IsCompleted)
                {
                    _peerHello.TrySetResult(link.Greeted(frame));
                }

                break;
            case DirectFrameKind.Ack:
                link.Acknowledged(frame.Seq);
                break;
            default:
                if (!_peerHello.Task.IsCompleted)
                {
                    counters.Increment(DirectRelayDrop.NotAFrame); // Nothing counts before the hello.
                }
                else if (link.Receive(frame.Seq) is not { } delivery)
                {
                    counters.Increment(DirectRelayDrop.Repeated);
                }
                else if (!frame.CarriesEnvelope)
                {
                    counters.Increment(DirectRelayDrop.NotAnEnvelope);
                    delivery.Handled();
                }
                else
                {
                    deliver(frame, delivery);
                }

                break;
        }
    }
}

/// <summary>How a direct relay connection ended.</summary>
public enum DirectConnectionEnd
{
    /// <summary>The other side closed it (a close frame): it went away in good order.</summary>
    Closed,

    /// <summary>This side ended it (stopping, a newer connection of the same link, a revoked token).</summary>
    Ended,

    /// <summary>
    /// It broke: reset, cut short, or silent past its keep-alive — the network, or the other side's process dying.
    /// The other side may well be alive and dial again (or be dialled) once the way is back.
    /// </summary>
    Broken,
}
