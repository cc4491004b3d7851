using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Inference.Commands;
using MeatLizard.Application.Relay;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Inference;

/// <summary>The worker's loops: read what the server sends, send heartbeats; on stop, drain running jobs.</summary>
/// <remarks>With no inference engine registered, no worker runs and the server's fallback answers.</remarks>
public sealed partial class HostLoop(
    IServiceScopeFactory scopes,
    HostEngine engine,
    IHostRelayTransport transport,
    HostJobs jobs,
    IOptions<RelayOptions> options,
    IOptions<ModelHostOptions> workerOptions,
    ILogger<HostLoop> logger) : BackgroundService
{
    // A lane waits for its packets' replay checks (a round trip to Redis) before it takes the next ones, and every
    // session hashed to it waits behind them; as many lanes as the server's inbound side (RelayInboundLoop), where the
    // same wait was measured. Lanes cost a channel and an idle task each.
    private const int Lanes = 64;
    private const int MaxBatch = 16;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (engine.Current is null)
        {
            LogNoEngine(logger);
            return;
        }

        LogStarted(logger, engine.Current.Name, jobs.WorkerId);
        var heartbeats = Task.Run(() => HeartbeatAsync(stoppingToken), stoppingToken);
        try
        {
            // One session's packets in order (a cancel after its request); different sessions in parallel.
            await ChatLanes.RunAsync(transport.ReceiveAllAsync(stoppingToken), Lanes, MaxBatch,
                (packets, ct) => SendAsync(new HandleServerPacket(packets), ct), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await heartbeats.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (engine.Current is null)
        {
            await base.StopAsync(cancellationToken);
            return;
        }

        // Refuse new jobs first, and say so in a heartbeat, so the server stops sending them here.
        jobs.StartDraining();
        var deadline = workerOptions.Value.DrainDeadline;
        LogDraining(logger, jobs.Count, deadline);
        await SendAsync(new SendHostHeartbeat(), cancellationToken);
        var stopped = await jobs.DrainAsync(deadline, cancellationToken);
        if (stopped > 0)
        {
            LogDrainStopped(logger, stopped);
        }

        await base.StopAsync(cancellationToken);
    }

    /// <summary>
    /// A heartbeat every interval, and one at once when the engine's health changes by itself (it died, or is ready
    /// again): the relay stops sending work to a host whose engine is starting again, and resumes, without waiting for
    /// the next interval.
    /// </summary>
    private async Task HeartbeatAsync(CancellationToken stoppingToken)
    {
        using var changed = new SemaphoreSlim(0, 1);
        void OnChanged()
        {
            try
            {
                changed.Release();
            }
            catch (SemaphoreFullException)
            {
                // A heartbeat is due already.
            }
            catch (ObjectDisposedException)
            {
                // Stopped.
            }
        }

        var changes = engine.Current as IEngineHealthChanges;
        if (changes is not null)
        {
            changes.HealthChanged += OnChanged;
        }

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await SendAsync(new SendHostHeartbeat(), stoppingToken);
                await changed.WaitAsync(options.Value.HeartbeatInterval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (changes is not null)
            {
                changes.HealthChanged -= OnChanged;
            }
        }
    }

    private async Task SendAsync<TResponse>(IRequest<TResponse> request, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogFailed(logger, request.GetType().Name, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "No inference engine is configured (Inference:Engine is None): no worker runs and the fallback answers every message")]
    private static partial void LogNoEngine(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} serving with engine {Engine}")]
    private static partial void LogStarted(ILogger logger, string engine, Guid workerId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Draining: refusing new jobs; {Jobs} running may finish within Host:DrainDeadline ({Deadline})")]
    private static partial void LogDraining(ILogger logger, int jobs, TimeSpan deadline);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "{Jobs} jobs were still running at Host:DrainDeadline: stopped, and their users told")]
    private static partial void LogDrainStopped(ILogger logger, int jobs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker command {Command} failed")]
    private static partial void LogFailed(ILogger logger, string command, Exception exception);
}
