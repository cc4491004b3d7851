using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Inference;

/// <summary>
/// The engine this process's worker runs, if one is configured. With none, no worker runs and the server's fallback
/// answers; the host still composes (and validates) without one.
/// </summary>
public sealed class HostEngine(IEnumerable<IInferenceEngine> engines)
{
    public IInferenceEngine? Current { get; } = engines.LastOrDefault();

    public IInferenceEngine Required =>
        Current ?? throw new InvalidOperationException("No inference engine is configured (Inference:Engine is None).");
}
