using System.Diagnostics;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// When this process last stood still — stopped (SIGSTOP, a debugger), descheduled by a starved machine — for longer than
/// <see cref="Noticeable"/>: a thread of its own wakes every <see cref="Tick"/> and notes a wake-up that came that much
/// late. While a process stands still it reads nothing from the hosts: what they sent waits in its sockets, and a host
/// silent over that time is not known to be gone (<see cref="HostsHeard.KnewAHostWithin"/>). The fault suite's server
/// bot frozen for 8 s answered the whole next round "no host" in one CI run: its dispatcher ran before it had read the
/// heartbeats waiting for it.
/// </summary>
public sealed class ProcessPauses
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    /// <summary>A wake-up this much later than due is a pause of the process, not a scheduler's jitter.</summary>
    public static readonly TimeSpan Noticeable = TimeSpan.FromSeconds(1);

    private long _lastPauseEndedAt = long.MinValue / 2;

    /// <summary>Watches this process with a thread of its own (none when <paramref name="watch"/> is false: tests note pauses).</summary>
    public ProcessPauses(bool watch = true)
    {
        if (watch)
        {
            new Thread(Watch) { IsBackground = true, Name = "process pauses" }.Start();
        }
    }

    /// <summary>Notes that this process has just stood still.</summary>
    public void PausedJustNow() => Volatile.Write(ref _lastPauseEndedAt, Environment.TickCount64);

    /// <summary>Whether this process stood still less than <paramref name="window"/> ago.</summary>
    public bool PausedWithin(TimeSpan window) =>
        Environment.TickCount64 - Volatile.Read(ref _lastPauseEndedAt) < (long)window.TotalMilliseconds;

    private void Watch()
    {
        var last = Stopwatch.GetTimestamp();
        while (true)
        {
            Thread.Sleep(Tick);
            var now = Stopwatch.GetTimestamp();
            if (Stopwatch.GetElapsedTime(last, now) > Tick + Noticeable)
            {
                PausedJustNow();
            }

            last = now;
        }
    }
}
