namespace MeatLizard.Application.Abstractions;

/// <summary>Where the machine draws power from; <see cref="BatteryPercent"/> is null when it has no battery.</summary>
public sealed record PowerStatus(bool OnBattery, int? BatteryPercent);

/// <summary>Reads the power source (macOS: pmset, Linux: /sys/class/power_supply).</summary>
public interface IPowerSource
{
    /// <summary>The current status, or null when this machine does not say.</summary>
    Task<PowerStatus?> ReadAsync(CancellationToken cancellationToken);
}
