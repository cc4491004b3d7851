using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Inference.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Inference;

/// <summary>The worker's loops: read what the server sends, send heartbeats; on stop, drain running jobs.</summary>
/// <remarks>With no inference engine registered, no worker runs and the server's fallback answers.</remarks>
public sealed partial class WorkerLoop(
    IServiceScopeFactory scopes,
    WorkerEngine engine,
    IWorkerRelayTransport transport,
    WorkerJobs jobs,
    IOptions<RelayOptions> options,
    ILogger<WorkerLoop> logger) : BackgroundService
{
    /// <summary>How long running jobs may take to finish when the host stops.</summary>
    public static readonly TimeSpan DrainDeadline = TimeSpan.FromSeconds(20);

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
            await foreach (var packet in transport.ReceiveAllAsync(stoppingToken))
            {
                await SendAsync(new HandleServerPacket(packet), stoppingToken);
            }
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

        jobs.StartDraining();
        await SendAsync(new SendWorkerHeartbeat(), cancellationToken);
        await jobs.DrainAsync(DrainDeadline, cancellationToken);
        await base.StopAsync(cancellationToken);
    }

    private async Task HeartbeatAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval);
        try
        {
            do
            {
                await SendAsync(new SendWorkerHeartbeat(), stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker command {Command} failed")]
    private static partial void LogFailed(ILogger logger, string command, Exception exception);
}
