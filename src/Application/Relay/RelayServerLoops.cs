using System.Diagnostics;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay;

/// <summary>
/// Wakes on new work (or the slow poll) and sends the dispatch and timeout commands. A few dispatches run at once,
/// each claiming its own batch (claims never overlap, in this process or across processes): a batch takes four round
/// trips to the database (claim, sessions, histories, store), so one dispatch at a time would hold the queue back
/// under load. A dispatch that claimed a full batch wakes a sibling, so they all work while there is a backlog and
/// all sleep when there is none.
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
                // A full batch may have left more behind: a sibling takes the next one meanwhile. A short one drained
                // what was claimable when it was claimed, and whatever is queued after it wakes the loop again, so
                // no claim is spent finding the queue empty.
                while (await mediator.Send(new DispatchPendingRequests(BatchSize), stoppingToken) == BatchSize)
                {
                    signal.NotifyPending();
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
/// Reads what workers send and applies it, over <see cref="SessionLanes"/>: a lane's waiting packets go in one command,
/// so the envelopes of a quick answer that arrive together are stored together.
/// </summary>
public sealed partial class RelayInboundLoop(
    IServiceScopeFactory scopes, IServerRelayTransport transport, ILogger<RelayInboundLoop> logger) : BackgroundService
{
    // A lane's command waits for its answers to be stored (a commit) and their replay checks, and every session hashed
    // to the lane waits behind it: with 8 lanes, at 1,000 answers/s, an answer waited 3–11 ms at the median (p99 up to
    // 60 ms) before it was even opened; with 64, 2–3 ms (p99 ~18 ms), and, with the worker's lanes raised alike, the
    // closed loop's throughput rose by 26–72 % (distributed benchmark, docs/distributed.md). Lanes cost a channel and an idle task each; the answers' group commit still gathers
    // what the lanes store at the same time into one statement.
    private const int Lanes = 64;
    private const int MaxBatch = 64;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        SessionLanes.RunAsync(transport.ReceiveAllAsync(stoppingToken), Lanes, MaxBatch, HandleAsync, stoppingToken);

    private async Task HandleAsync(IReadOnlyList<RelayPacket> packets, CancellationToken stoppingToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new HandleWorkerPacket(packets), stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogPacketFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a worker packet failed")]
    private static partial void LogPacketFailed(ILogger logger, Exception exception);
}
