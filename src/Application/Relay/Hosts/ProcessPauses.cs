using System.Diagnostics;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// When this process last stood still — stopped (SIGSTOP, a debugger), descheduled by a starved machine — for longer than
/// <see cref="Noticeable"/>: a thread of its own wakes every <see cref="Tick"/> and notes a wake-up that came that much
/// late. While a process stands still it reads nothing from the hosts: what they sent waits in its sockets, and a host
/// silent over that time is not known to be gone (<see cref="HostsHeard.KnewAHostWithin"/>). The fault suite's server
/// bot frozen for 8 s answered the whole next round "no host" in one CI run: its dispatcher ran before it had read the
/// heartbeats waiting for it. Disposed with its container, its thread ends (a test suite builds many).
/// </summary>
public sealed class ProcessPauses : IDisposable
{
    /// <summary>
    /// Well under <see cref="Noticeable"/>, so a pause is told apart from the wait itself; not much more often, since
    /// the thread wakes an idle process every time (it woke it ten times a second).
    /// </summary>
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    /// <summary>A wake-up this much later than due is a pause of the process, not a scheduler's jitter.</summary>
    public static readonly TimeSpan Noticeable = TimeSpan.FromSeconds(1);

    private long _lastPauseEndedAt = long.MinValue / 2;

    private readonly ManualResetEventSlim _stopped = new();

    /// <summary>Watches this process with a thread of its own (none when <paramref name="watch"/> is false: tests note pauses).</summary>
    public ProcessPauses(bool watch = true)
    {
        if (watch)
        {
            _watcher = new Thread(Watch) { IsBackground = true, Name = "process pauses" };
            _watcher.Start();
        }
    }

    private readonly Thread? _watcher;

    /// <summary>Whether its thread still watches (until disposed).</summary>
    internal bool Watching => _watcher is { IsAlive: true };

    /// <summary>Notes that this process has just stood still.</summary>
    public void PausedJustNow() => Volatile.Write(ref _lastPauseEndedAt, Environment.TickCount64);

    /// <summary>Whether this process stood still less than <paramref name="window"/> ago.</summary>
    public bool PausedWithin(TimeSpan window) =>
        Environment.TickCount64 - Volatile.Read(ref _lastPauseEndedAt) < (long)window.TotalMilliseconds;

    private void Watch()
    {
        var last = Stopwatch.GetTimestamp();
        while (!_stopped.Wait(Tick))
        {
            var now = Stopwatch.GetTimestamp();
            if (Stopwatch.GetElapsedTime(last, now) > Tick + Noticeable)
            {
                PausedJustNow();
            }

            last = now;
        }
    }

    /// <summary>Ends the watching thread (at its next tick; the event stays for it to see).</summary>
    public void Dispose() => _stopped.Set();
}
