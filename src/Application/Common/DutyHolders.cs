using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace MeatLizard.Application.Common;

/// <summary>
/// Who holds a duty's lease (<see cref="DutyRunner"/>): "machine:process id:run", one per run of a process, so a
/// restarted process is a new holder; and whether such a holder is known to be dead.
/// </summary>
public static class DutyHolders
{
    // The runs of this process that have ended (a host stopped and, in tests, started again in the same process).
    private static readonly ConcurrentDictionary<string, bool> s_ended = new(StringComparer.Ordinal);

    /// <summary>A new holder name for this run of this process.</summary>
    public static string ThisRun() => $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    /// <summary>Marks a run of this process as ended: its leases are taken over at once (<see cref="DiedOnThisMachine"/>).</summary>
    public static void Ended(string holder) => s_ended[holder] = true;

    /// <summary>
    /// Whether <paramref name="holder"/> is a process of this machine's that no longer runs (killed: it let nothing go).
    /// Another machine's holder, this run of this process, or a process id in use (perhaps by another program since) are not:
    /// their leases are waited out. Machines that share a name but not their process ids (containers given one
    /// hostname) would take each other's live processes for dead: give each its own name.
    /// </summary>
    public static bool DiedOnThisMachine(string holder)
    {
        ArgumentNullException.ThrowIfNull(holder);
        var parts = holder.Split(':');
        if (parts.Length < 3 || parts[0] != Environment.MachineName
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return false;
        }

        if (pid == Environment.ProcessId)
        {
            return s_ended.ContainsKey(holder); // a run of this process that ended; this run itself never
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true; // no process has that id
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}
