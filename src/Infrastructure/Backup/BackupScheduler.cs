using MediatR;
using MeatLizard.Application.Backups;
using MeatLizard.Application.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Backup;

/// <summary>
/// Sends <see cref="CreateBackup"/> at every time of Backup:Schedule; a failed backup is logged and the next one still
/// runs. However many server bots run the schedule, each time's backup is made once: by the first to claim it
/// (<see cref="DutyRunner.TryClaimOnceAsync"/>).
/// </summary>
internal sealed partial class BackupScheduler(
    CronSchedule schedule, IServiceScopeFactory scopes, DutyRunner duties, TimeProvider clock,
    ILogger<BackupScheduler> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = schedule.Next(clock.GetUtcNow());
            var wait = next - clock.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, clock, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                if (!await duties.TryClaimOnceAsync($"backup:{next.UtcDateTime:O}", ClaimKept, stoppingToken))
                {
                    continue; // another process makes this one
                }

                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new CreateBackup(), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogBackupFailed(logger, ex);
            }
        }
    }

    /// <summary>How long a scheduled time's claim is kept: longer than any two processes' clocks differ.</summary>
    private static readonly TimeSpan ClaimKept = TimeSpan.FromHours(1);

    [LoggerMessage(Level = LogLevel.Error, Message = "The scheduled backup failed; the next one runs as scheduled")]
    private static partial void LogBackupFailed(ILogger logger, Exception exception);
}
