using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Inference;

/// <summary>Section "Host" (or its old name "Worker": <see cref="HostSections"/>): when the model host stops itself to spare the battery.</summary>
public sealed class HostPowerOptions
{
    public const string Section = HostSections.Current;

    /// <summary>On battery below this percentage the model host drains and exits; 0 turns the watch off.</summary>
    public int MinBatteryPercent { get; set; } = 20;

    public TimeSpan PowerCheckInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Watches the power source and, on battery below <see cref="HostPowerOptions.MinBatteryPercent"/>, stops the host:
/// stopping drains the worker (running jobs finish within the deadline, new ones are refused) before it exits.
/// </summary>
public sealed partial class PowerWatch(
    IPowerSource power,
    IHostApplicationLifetime lifetime,
    IOptions<HostPowerOptions> options,
    ILogger<PowerWatch> logger) : BackgroundService
{
    /// <summary>True once the battery was found too low and the host was asked to stop.</summary>
    public bool Tripped { get; private set; }

    /// <summary>Whether this status means the worker should stop.</summary>
    public static bool IsTooLow(PowerStatus? status, int minBatteryPercent) =>
        minBatteryPercent > 0 && status is { OnBattery: true, BatteryPercent: { } percent } && percent < minBatteryPercent;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.MinBatteryPercent <= 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(settings.PowerCheckInterval);
        try
        {
            do
            {
                PowerStatus? status;
                try
                {
                    status = await power.ReadAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
                {
                    LogUnreadable(logger, ex.GetType().Name);
                    continue;
                }

                if (IsTooLow(status, settings.MinBatteryPercent))
                {
                    Tripped = true;
                    LogBatteryLow(logger, status!.BatteryPercent!.Value, settings.MinBatteryPercent);
                    lifetime.StopApplication();
                    return;
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "On battery at {Percent}% (below Host:MinBatteryPercent {Minimum}%): draining running jobs and stopping")]
    private static partial void LogBatteryLow(ILogger logger, int percent, int minimum);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not read the power source ({ErrorType})")]
    private static partial void LogUnreadable(ILogger logger, string errorType);
}
