using System.Globalization;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// The time one request may take (Inference:TimeoutSeconds) on top of its caller's cancellation. A step cut by this
/// deadline, and not by the caller, fails with an <see cref="InferenceFailedException"/> that names the setting.
/// </summary>
internal sealed class LlamaServerDeadline : IDisposable
{
    private readonly double _seconds;
    private readonly CancellationToken _caller;
    private readonly CancellationTokenSource _timeout;

    public LlamaServerDeadline(double seconds, CancellationToken caller)
    {
        _seconds = seconds;
        _caller = caller;
        _timeout = CancellationTokenSource.CreateLinkedTokenSource(caller);
        _timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
    }

    /// <summary>Cancelled by the caller or when the time is up.</summary>
    public CancellationToken Token => _timeout.Token;

    /// <summary>The time is up (and the caller did not cancel).</summary>
    public bool Passed => _timeout.IsCancellationRequested && !_caller.IsCancellationRequested;

    public InferenceFailedException TimedOut() => new(
        $"llama-server did not finish within Inference:TimeoutSeconds ({_seconds.ToString(CultureInfo.InvariantCulture)} s).");

    /// <summary>Runs <paramref name="step"/> with <see cref="Token"/>; cut by the deadline, it throws <see cref="TimedOut"/>.</summary>
    public async Task<T> KeepAsync<T>(Func<CancellationToken, Task<T>> step)
    {
        try
        {
            return await step(Token);
        }
        catch (OperationCanceledException) when (Passed)
        {
            throw TimedOut();
        }
    }

    /// <inheritdoc cref="KeepAsync{T}"/>
    public Task KeepAsync(Func<CancellationToken, Task> step) => KeepAsync(async token =>
    {
        await step(token);
        return true;
    });

    public void Dispose() => _timeout.Dispose();
}
