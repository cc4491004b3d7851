using System.Diagnostics;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// Watches a ready run until it ends, asking it every few seconds meanwhile for its slots — a question its task loop
/// answers, the one that generates, where <c>/health</c> is answered by the HTTP threads alone: a llama-server told
/// to stop (SIGTERM from outside) has been seen to answer its health check for a minute with its task loop gone and
/// its answers silent. One it leaves unanswered for <see cref="LlamaCppOptions.HangTimeoutSeconds"/> is hung
/// (frozen, deadlocked, stopping, out of HTTP threads). Any answer counts, whatever its status: a busy llama-server
/// answers between two steps of its generation (and one run with <c>--no-slots</c> answers 501).
/// </summary>
internal sealed class LlamaServerWatchdog(HttpClient http, int hangTimeoutSeconds)
{
    /// <summary>
    /// Waits until <paramref name="exited"/> completes or the run hangs; true when it hung while still running (the
    /// supervisor then stops it, so the requests it held fail as lost and are handed back, and starts the next run).
    /// </summary>
    public async Task<bool> HungAsync(Task exited, LlamaServerRun run, CancellationToken stopping)
    {
        var hangAfter = TimeSpan.FromSeconds(hangTimeoutSeconds);
        var every = TimeSpan.FromSeconds(Math.Clamp(hangTimeoutSeconds / 4.0, 0.25, 5));
        var answered = Stopwatch.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            await Task.WhenAny(exited, Task.Delay(every, stopping));
            if (exited.IsCompleted || stopping.IsCancellationRequested)
            {
                return false;
            }

            var left = hangAfter - Stopwatch.GetElapsedTime(answered);
            if (await AnswersAsync(run, left > every ? left : every, stopping))
            {
                answered = Stopwatch.GetTimestamp();
                continue;
            }

            if (Stopwatch.GetElapsedTime(answered) >= hangAfter && !exited.IsCompleted)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the run answers its <c>/slots</c> within <paramref name="within"/>, whatever the status.</summary>
    private async Task<bool> AnswersAsync(LlamaServerRun run, TimeSpan within, CancellationToken stopping)
    {
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        probe.CancelAfter(within);
        try
        {
            using var ask = run.Request(HttpMethod.Get, "slots");
            using var response = await http.SendAsync(ask, HttpCompletionOption.ResponseHeadersRead, probe.Token);
            return true;
        }
        catch (Exception ex) when (ex is HttpRequestException
                                       || (ex is OperationCanceledException && !stopping.IsCancellationRequested))
        {
            // Unanswered: refused by a run that is going away (its exit ends the wait), or not answered in time.
            return false;
        }
    }
}
