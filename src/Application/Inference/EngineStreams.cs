using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Inference;

/// <summary>The end of a job's read of its engine's stream (<see cref="JobAnswer"/>).</summary>
internal static partial class EngineStreams
{
    /// <summary>How long a job that stops waits for the engine to end a read it has under way.</summary>
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Closes the engine's stream once no read is pending on it. An async iterator disposed while a read is pending
    /// throws NotSupportedException and skips its clean-up; when that read then yields, the iterator waits at the yield
    /// for good, holding what it holds (llama-server: a slot and the HTTP stream, whose generation runs on). A job that
    /// stopped mid-read (a send that failed or was cancelled while the engine worked) leaked one slot so, until the host
    /// took questions and answered none. So the engine is told to stop (<paramref name="generation"/> cancelled), the
    /// pending read awaited, then it is disposed. An engine that does not stop within <see cref="CloseWait"/> is left as
    /// it is, and said so: the job still ends.
    /// </summary>
    public static async Task CloseAsync(IAsyncEnumerator<InferenceUpdate> updates, Task<bool>? pending,
        CancellationTokenSource generation, Guid requestId, ILogger logger)
    {
        if (pending is { IsCompleted: false })
        {
            await generation.CancelAsync();
            await ((Task)pending).WaitAsync(CloseWait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!pending.IsCompleted)
            {
                LogEngineDidNotStop(logger, requestId, (int)CloseWait.TotalSeconds);
                return;
            }
        }

        await updates.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Error,
        Message = "The engine did not stop the read of request {RequestId} within {Seconds} s of being told to; its stream is left open")]
    private static partial void LogEngineDidNotStop(ILogger logger, Guid requestId, int seconds);
}
