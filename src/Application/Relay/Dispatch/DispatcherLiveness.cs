using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// Holds this dispatcher run's liveness lease (<see cref="DispatcherRun.LivenessDuty"/>) while the process runs, renewed
/// every third of <see cref="DispatcherRun.Liveness"/>: a server bot killed on another machine, whose process nothing here
/// can see, is known to be dead once its lease lapses, and its claims go back to the queue then instead of when their own
/// longer leases run out. A stop lets the lease lapse at once.
/// </summary>
public sealed partial class DispatcherLiveness(
    IServiceScopeFactory scopes, DispatcherRun run, IClock clock, ILogger<DispatcherLiveness> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await HoldUntilAsync(clock.UtcNow + DispatcherRun.Liveness, stoppingToken);
            await Task.Delay(DispatcherRun.Liveness / 3, stoppingToken)
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // Lapsed now, not deleted: a lease no longer on record says nothing, and the claims would be waited out.
        await HoldUntilAsync(clock.UtcNow, cancellationToken);
    }

    private async Task HoldUntilAsync(DateTimeOffset until, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IDutyLeases>()
                .TryHoldAsync(run.LivenessDuty, run.Name, clock.UtcNow, until, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A database outage: the next renewal tries again; meanwhile nobody dispatches from this run's claims either.
            LogRenewFailed(logger, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The dispatcher's liveness lease could not be renewed ({Error})")]
    private static partial void LogRenewFailed(ILogger logger, string error);
}
