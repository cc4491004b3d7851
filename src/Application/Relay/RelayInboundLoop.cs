using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay;

/// <summary>
/// Reads what workers send and applies it, over <see cref="ChatLanes"/>: a lane's waiting packets go in one command,
/// so the envelopes of a quick answer that arrive together are stored together. Packets whose handling failed (the
/// database away longer than an answer's store waits) are tried again with growing pauses, off the lane.
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
        ChatLanes.RunAsync(transport.ReceiveAllAsync(stoppingToken), Lanes, MaxBatch, HandleAsync, stoppingToken);

    /// <summary>
    /// Tries of packets whose handling failed, after pauses of 1, 2, 4, 8, 16 s and then 30 s: about four minutes in
    /// all, longer than an answer is waited for (Relay:CompletionTimeout, 3 minutes by default).
    /// </summary>
    internal const int RetryAttempts = 11;

    internal static readonly TimeSpan FirstRetryPause = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan MaxRetryPause = TimeSpan.FromSeconds(30);

    private async Task HandleAsync(IReadOnlyList<RelayPacket> packets, CancellationToken stoppingToken)
    {
        if (await TryHandleAsync(packets, stoppingToken) is { Count: > 0 } failed)
        {
            // Off the lane, so the session's other envelopes (and the sessions hashed to the lane) are not held up.
            _ = Task.Run(() => RetryAsync(failed, stoppingToken), CancellationToken.None);
        }
    }

    /// <summary>The packets whose handling failed: all of them when the command itself failed.</summary>
    private async Task<IReadOnlyList<RelayPacket>> TryHandleAsync(IReadOnlyList<RelayPacket> packets, CancellationToken stoppingToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new HandleHostPacket(packets), stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogPacketFailed(logger, ex);
            return packets;
        }
    }

    private async Task RetryAsync(IReadOnlyList<RelayPacket> packets, CancellationToken stoppingToken)
    {
        var pause = FirstRetryPause;
        try
        {
            for (var attempt = 1; attempt <= RetryAttempts && packets.Count > 0; attempt++)
            {
                await Task.Delay(pause, stoppingToken);
                LogRetrying(logger, packets.Count, attempt);
                packets = await TryHandleAsync(packets, stoppingToken);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxRetryPause.Ticks));
            }

            if (packets.Count > 0)
            {
                // Still not marked handled: a transport that keeps its place (Discord) reads them again after a restart.
                LogRetriesGivenUp(logger, packets.Count, RetryAttempts);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Trying {Count} worker packets again (try {Attempt})")]
    private static partial void LogRetrying(ILogger logger, int count, int attempt);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Gave up {Count} worker packets after {Attempts} more tries; a restart reads them again from Discord")]
    private static partial void LogRetriesGivenUp(ILogger logger, int count, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a worker packet failed")]
    private static partial void LogPacketFailed(ILogger logger, Exception exception);
}
