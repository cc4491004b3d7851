using System.Threading.Channels;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay;

/// <summary>
/// Spreads incoming packets over a few lanes by session: one session's packets stay in order while different sessions
/// proceed in parallel (a packet's handling waits on the database or Redis; one at a time would hold everyone back).
/// A lane hands over what it has waiting in one call, at most <c>maxBatch</c> packets. Packets of no session (the
/// control channel: hosts' heartbeats) have a lane of their own: a heartbeat that waited behind a chat's answer being
/// stored was not noted for as long as that store took, and a host that sends one every fraction of its timeout was
/// taken for gone (its requests sent again) when the store was slow.
/// </summary>
public static class ChatLanes
{
    public static async Task RunAsync(IAsyncEnumerable<RelayPacket> packets, int lanes, int maxBatch,
        Func<IReadOnlyList<RelayPacket>, CancellationToken, Task> handle, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(packets);
        ArgumentNullException.ThrowIfNull(handle);
        var channels = Enumerable.Range(0, lanes + 1).Select(_ => Channel.CreateUnbounded<RelayPacket>(
            new UnboundedChannelOptions { SingleReader = true, SingleWriter = true })).ToArray();
        var workers = channels.Select(lane => Task.Run(() => DrainAsync(lane.Reader, maxBatch, handle, stoppingToken), stoppingToken))
            .ToArray();
        try
        {
            await foreach (var packet in packets.WithCancellation(stoppingToken))
            {
                var lane = packet.ChatId is { } chat ? (int)((uint)chat.GetHashCode() % lanes) : lanes;
                await channels[lane].Writer.WriteAsync(packet, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var lane in channels)
            {
                lane.Writer.TryComplete();
            }

            await Task.WhenAll(workers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static async Task DrainAsync(ChannelReader<RelayPacket> reader, int maxBatch,
        Func<IReadOnlyList<RelayPacket>, CancellationToken, Task> handle, CancellationToken stoppingToken)
    {
        var batch = new List<RelayPacket>(maxBatch);
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < maxBatch && reader.TryRead(out var packet))
                {
                    batch.Add(packet);
                }

                await handle(batch.ToArray(), stoppingToken); // the handler logs its own failures
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
