
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// What a worker reports about itself in each heartbeat. <paramref name="EngineLoading"/>: not ready yet, but loading
/// its model (requests sent to it wait there and are answered once it is ready).
/// </summary>
public sealed record WorkerHealth(
    Guid WorkerId, string Engine, bool EngineReady, int JobsRunning, bool Draining, string? LastError,
    DateTimeOffset SeenAt, bool EngineLoading = false, IReadOnlyList<string>? Models = null)
{
    /// <summary>Whether requests may be sent to this worker: it answers now, or once its model has loaded.</summary>
    public bool Accepts => !Draining && (EngineReady || EngineLoading);
}

/// <summary>Which workers sent a heartbeat recently.</summary>
public interface IWorkerPresence
{
    ValueTask RecordAsync(WorkerHealth health, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<WorkerHealth>> ListAliveAsync(CancellationToken cancellationToken);
}
