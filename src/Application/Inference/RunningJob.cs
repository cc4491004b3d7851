using MeatLizard.Domain.Inference;

namespace MeatLizard.Application.Inference;

/// <summary>A job running on this host: its cancellation, the attempt it answers, and its completion.</summary>
public sealed class RunningJob(InferenceJob job, CancellationTokenSource cancellation)
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public InferenceJob Job { get; } = job;

    public CancellationTokenSource Cancellation { get; } = cancellation;

    /// <summary>The model it runs on, by name; null when not known.</summary>
    public string? Model { get; init; }

    /// <summary>The request's attempt it answers (its dispatch's sequence number).</summary>
    public int Attempt { get; init; } = 1;

    public Task Completion => _completion.Task;

    /// <summary>True when the job was stopped because the worker shut down, not because the server asked.</summary>
    public bool StoppedForShutdown { get; private set; }

    /// <summary>Cancels the job because the drain deadline passed; false when it had finished meanwhile.</summary>
    public bool StopForShutdown()
    {
        if (_completion.Task.IsCompleted)
        {
            return false;
        }

        StoppedForShutdown = true;
        try
        {
            Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            return false; // it finished meanwhile
        }

        return true;
    }

    public void MarkDone() => _completion.TrySetResult();
}
