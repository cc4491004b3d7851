using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Power;

/// <summary>macOS: parses `pmset -g batt`.</summary>
public sealed partial class PmsetPowerSource : IPowerSource
{
    public async Task<PowerStatus?> ReadAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("pmset", "-g batt") { RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not run pmset.");
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return Parse(output);
    }

    /// <summary>
    /// "Now drawing from 'Battery Power'" (or 'AC Power'), then one line per battery such as
    /// " -InternalBattery-0 (id=4653155)	42%; discharging; 2:10 remaining present: true".
    /// </summary>
    public static PowerStatus? Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var source = Source().Match(output);
        if (!source.Success)
        {
            return null;
        }

        var percent = Percent().Match(output);
        return new PowerStatus(
            source.Groups[1].Value.Equals("Battery Power", StringComparison.OrdinalIgnoreCase),
            percent.Success ? int.Parse(percent.Groups[1].Value, CultureInfo.InvariantCulture) : null);
    }

    [GeneratedRegex("drawing from '([^']+)'")]
    private static partial Regex Source();

    [GeneratedRegex(@"\t(\d{1,3})%;")]
    private static partial Regex Percent();
}

/// <summary>Linux: reads /sys/class/power_supply (type, online, status, capacity of each supply).</summary>
public sealed class SysfsPowerSource(string root = SysfsPowerSource.DefaultRoot) : IPowerSource
{
    public const string DefaultRoot = "/sys/class/power_supply";

    public Task<PowerStatus?> ReadAsync(CancellationToken cancellationToken) => Task.FromResult(Read(root));

    /// <summary>
    /// On battery when no mains/USB supply is online and a battery is discharging; the percentage is the lowest
    /// battery's capacity. Null without any battery.
    /// </summary>
    public static PowerStatus? Read(string root)
    {
        if (!Directory.Exists(root))
        {
            return null;
        }

        var externalOnline = false;
        var discharging = false;
        int? lowest = null;
        foreach (var supply in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            var type = Value(supply, "type");
            if (string.Equals(type, "Battery", StringComparison.OrdinalIgnoreCase))
            {
                if (Value(supply, "present") == "0")
                {
                    continue;
                }

                discharging |= string.Equals(Value(supply, "status"), "Discharging", StringComparison.OrdinalIgnoreCase);
                if (int.TryParse(Value(supply, "capacity"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var capacity))
                {
                    lowest = lowest is { } current ? Math.Min(current, capacity) : capacity;
                }
            }
            else if (Value(supply, "online") == "1")
            {
                externalOnline = true;
            }
        }

        return lowest is null && !discharging ? null : new PowerStatus(discharging && !externalOnline, lowest);
    }

    private static string? Value(string supply, string name)
    {
        var path = Path.Combine(supply, name);
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
