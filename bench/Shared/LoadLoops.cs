using System.Diagnostics;

namespace MeatLizard.Bench;

/// <summary>
/// The two load shapes of the relay benchmarks. An operation returns whether its message was answered; a request
/// that throws (a dropped connection, a timeout) counts as failed too, never as a (fast) latency. After each message,
/// answered or not, <c>prepare</c> runs for the session (it starts a new chat every so many messages).
/// </summary>
internal static class LoadLoops
{
    /// <summary>
    /// How long the open loop waits, after its window, for answers still in flight before counting them as failed: an
    /// overloaded run ends within its seconds plus this instead of waiting out every queued request.
    /// </summary>
    public static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(10);

    /// <summary>Closed loop: each of <paramref name="concurrency"/> sessions sends its next message when the last is answered.</summary>
    public static async Task<LoadRun> ClosedAsync(int concurrency, double seconds,
        Func<int, CancellationToken, Task<bool>> operation, Func<int, CancellationToken, Task> prepare)
    {
        var latencies = new List<double>[concurrency];
        var failures = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => Task.Run(async () =>
        {
            latencies[i] = [];
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var t0 = Stopwatch.GetTimestamp();
                if (await TryAsync(operation, i, CancellationToken.None))
                {
                    latencies[i].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
                else
                {
                    Interlocked.Increment(ref failures);
                }

                await prepare(i, CancellationToken.None);
            }
        })));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new LoadRun(all, all.Length / elapsed, failures, 0, all.Length + failures);
    }

    /// <summary>
    /// Open loop: the sessions together offer a fixed rate, each sending every <paramref name="interval"/> on its own
    /// schedule (phases spread evenly). Latency is measured from the scheduled send, so time spent waiting behind a
    /// slow answer (or a late timer) counts instead of silently lowering the offered load. The schedule runs for a
    /// warm-up second before the measured window (<paramref name="windowStarts"/> is called as it opens), so the
    /// window sees steady load from its first moment: throughput = answers that arrived within the window, over the
    /// window. Sending stops at the window's end even where a session is behind its schedule (overloaded, it would
    /// otherwise go on for as long again as it is behind): its unsent messages are counted, and what is still in
    /// flight gets <see cref="DrainTime"/>.
    /// </summary>
    public static async Task<LoadRun> OpenAsync(int sessions, TimeSpan interval, double seconds,
        Func<int, CancellationToken, Task<bool>> operation, Func<int, CancellationToken, Task> prepare, Action windowStarts)
    {
        var latencies = new List<double>[sessions];
        // MEATLIZARD_BENCH_TIMELINE=FILE: each measured request's send (ms into the window) and latency, one window after
        // another, each headed by its start in UTC ticks, to line a run's slow requests up with what the process did then.
        var timelineFile = Environment.GetEnvironmentVariable("MEATLIZARD_BENCH_TIMELINE");
        var timeline = timelineFile is null ? null : new System.Collections.Concurrent.ConcurrentQueue<(double At, double Latency)>();
        long windowUtc = 0;
        var failures = 0;
        var notSent = 0;
        var answeredInWindow = 0;
        var finished = 0;
        var step = (long)(interval.TotalSeconds * Stopwatch.Frequency);
        var begin = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
        var windowStart = begin + Stopwatch.Frequency;
        var windowEnd = windowStart + (long)(seconds * Stopwatch.Frequency);
        using var drain = new CancellationTokenSource(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), windowEnd) + DrainTime);
        var windowTask = Task.Run(async () =>
        {
            await Task.Delay(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), windowStart));
            windowStarts();
            windowUtc = DateTime.UtcNow.Ticks;
        });
        await Task.WhenAll(Enumerable.Range(0, sessions).Select(i => Task.Run(async () =>
        {
            latencies[i] = [];
            var due = begin + step * i / sessions;
            for (; due < windowEnd && Stopwatch.GetTimestamp() < windowEnd; due += step)
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                var ok = await TryAsync(operation, i, drain.Token);
                var done = Stopwatch.GetTimestamp();
                if (done >= windowStart)
                {
                    Interlocked.Increment(ref finished);
                }

                if (!ok)
                {
                    Interlocked.Increment(ref failures);
                }
                else
                {
                    if (due >= windowStart)
                    {
                        latencies[i].Add(Stopwatch.GetElapsedTime(due, done).TotalMilliseconds);
                        timeline?.Enqueue((Stopwatch.GetElapsedTime(windowStart, due).TotalMilliseconds, Stopwatch.GetElapsedTime(due, done).TotalMilliseconds));
                    }

                    if (done >= windowStart && done <= windowEnd)
                    {
                        Interlocked.Increment(ref answeredInWindow);
                    }
                }

                try
                {
                    await prepare(i, drain.Token);
                }
                catch (OperationCanceledException)
                {
                    // Only after the drain time, past the window's end, so the loop ends here anyway.
                }
            }

            for (; due < windowEnd; due += step)
            {
                if (due >= windowStart)
                {
                    Interlocked.Increment(ref notSent);
                }
            }
        })));
        await windowTask;
        if (timeline is not null)
        {
            await File.AppendAllLinesAsync(timelineFile!, timeline.OrderBy(t => t.At).Select(t => string.Create(
                System.Globalization.CultureInfo.InvariantCulture, $"{t.At:0.0} {t.Latency:0.00}")).Prepend($"# window {windowUtc}"));
        }

        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new LoadRun(all, answeredInWindow / seconds, failures, notSent, finished);
    }

    private static async Task<bool> TryAsync(
        Func<int, CancellationToken, Task<bool>> operation, int session, CancellationToken cancellationToken)
    {
        try
        {
            return await operation(session, cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException)
        {
            // Cut off after the drain time, timed out, or the connection failed: unanswered either way.
            return false;
        }
    }
}
