using System.Diagnostics;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Threading.Channels;

namespace MeatLizard.Application.Relay;

/// <summary>
/// Wakes on new work (or the slow poll) and sends the dispatch and timeout commands. A few dispatches run at once,
/// each claiming its own small batch (claims never overlap, in this process or across processes): building a batch's
/// prompts takes a round trip to the database per request, so one dispatch at a time would hold the queue back
/// under load. A dispatch that found work wakes a sibling, so they all work while there is a backlog and all sleep
/// when there is none.
/// </summary>
public sealed partial class RelayDispatchLoop(
    IServiceScopeFactory scopes, IRelayQueueSignal signal, IOptions<RelayOptions> options, ILogger<RelayDispatchLoop> logger)
    : BackgroundService
{
    private const int Dispatches = 4;
    private const int BatchSize = 16;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Dispatches).Select(i => Task.Run(() => DispatchAsync(i == 0, stoppingToken), stoppingToken)));

    private async Task DispatchAsync(bool expires, CancellationToken stoppingToken)
    {
        var lastExpiry = 0L;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();
                while (await mediator.Send(new DispatchPendingRequests(BatchSize), stoppingToken) > 0)
                {
                    signal.NotifyPending(); // there may be more: a sibling takes the next batch meanwhile
                }

                // Deadlines are seconds long: looking for overdue requests once per poll interval (in one of the
                // dispatches) is enough, however often new work wakes the loop.
                if (expires && Stopwatch.GetElapsedTime(lastExpiry) >= options.Value.PollInterval)
                {
                    await mediator.Send(new ExpireOverdueRequests(), stoppingToken);
                    lastExpiry = Stopwatch.GetTimestamp();
                }

                await signal.WaitAsync(options.Value.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogLoopFailed(logger, ex);
                await Task.Delay(options.Value.PollInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The relay dispatcher failed; retrying")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}

/// <summary>
/// Reads what workers send and applies it. Packets are spread over a few lanes by session, so one session's
/// envelopes stay in order while different sessions proceed in parallel.
/// </summary>
public sealed partial class RelayInboundLoop(
    IServiceScopeFactory scopes, IServerRelayTransport transport, ILogger<RelayInboundLoop> logger) : BackgroundService
{
    private const int Lanes = 8;
    private const int MaxBatch = 64;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lanes = Enumerable.Range(0, Lanes).Select(_ => Channel.CreateUnbounded<RelayPacket>(
            new UnboundedChannelOptions { SingleReader = true, SingleWriter = true })).ToArray();
        var workers = lanes.Select(lane => Task.Run(() => DrainLaneAsync(lane.Reader, stoppingToken), stoppingToken)).ToArray();
        try
        {
            await foreach (var packet in transport.ReceiveAllAsync(stoppingToken))
            {
                var lane = (int)((uint)(packet.SessionId ?? Guid.Empty).GetHashCode() % Lanes);
                await lanes[lane].Writer.WriteAsync(packet, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var lane in lanes)
            {
                lane.Writer.TryComplete();
            }

            await Task.WhenAll(workers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Hands over what the lane has waiting in one command (at most <see cref="MaxBatch"/> packets): the envelopes of a
    /// quick answer that arrive together are then stored together.
    /// </summary>
    private async Task DrainLaneAsync(ChannelReader<RelayPacket> reader, CancellationToken stoppingToken)
    {
        var batch = new List<RelayPacket>(MaxBatch);
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && reader.TryRead(out var packet))
                {
                    batch.Add(packet);
                }

                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    await scope.ServiceProvider.GetRequiredService<IMediator>()
                        .Send(new HandleWorkerPacket(batch.ToArray()), stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    LogPacketFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a worker packet failed")]
    private static partial void LogPacketFailed(ILogger logger, Exception exception);
}
