using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Status.Queries;

/// <summary>
/// One model host; <paramref name="Loading"/>: not ready yet, loading its model (messages wait for it);
/// <paramref name="Slots"/>: how many it answers at once (null: it does not say); <paramref name="TokensPerSecond"/>: its
/// measured speed (null before its first answer).
/// </summary>
public sealed record WorkerStatusDto(
    Guid Id, string Engine, bool Ready, int JobsRunning, bool Draining, string? LastError, DateTimeOffset LastSeen,
    bool Loading, string? Name = null, IReadOnlyList<string>? Models = null, int? Slots = null,
    double? TokensPerSecond = null);

/// <summary>What a user (or operator) needs to know about the platform right now.</summary>
public sealed record PlatformStatusDto(
    int WorkersOnline,
    int QueueDepth,
    string FallbackMode,
    string Engine,
    bool ModelAvailable,
    string Storage,
    string Cache,
    string ObjectStore,
    string Transport,
    IReadOnlyList<WorkerStatusDto> Workers,
    string Summary);

public sealed record GetPlatformStatus : IRequest<PlatformStatusDto>;

public sealed class GetPlatformStatusHandler(
    IWorkerPresence presence, IChatReadModel reads, PlatformDescription platform, IFallbackResponder fallback)
    : IRequestHandler<GetPlatformStatus, PlatformStatusDto>
{
    public async Task<PlatformStatusDto> Handle(GetPlatformStatus request, CancellationToken cancellationToken)
    {
        var workers = await presence.ListAliveAsync(cancellationToken);
        var queued = await reads.CountQueuedAsync(cancellationToken);
        var ready = workers.Where(w => w.EngineReady && !w.Draining).ToList();
        var mode = (await fallback.GetModeAsync(cancellationToken)).ToString().ToLowerInvariant();
        var loading = workers.Count(w => w is { EngineReady: false, Draining: false, EngineLoading: true });
        var summary = ready.Count > 0
            ? $"{ready.Count} model worker(s) online."
            : loading > 0
                ? $"The model is loading on {loading} worker(s): messages wait for it (the fallback ({mode}) answers if it takes longer than the relay's timeouts)."
            : platform.Engine == "None" && platform.LocalWorker is false && platform.Transport == "InProcess"
                ? $"No inference engine is configured (Inference:Engine), so no worker runs: the fallback ({mode}) answers."
                : $"No model worker is online: the fallback ({mode}) answers until one connects.";
        return new PlatformStatusDto(
            ready.Count,
            queued,
            mode,
            platform.Engine,
            ready.Count > 0,
            platform.Storage,
            platform.Cache,
            platform.ObjectStore,
            platform.Transport,
            workers.Select(w => new WorkerStatusDto(w.WorkerId, w.Engine, w.EngineReady, w.JobsRunning, w.Draining,
                w.LastError, w.SeenAt, w.EngineLoading, w.HostName, w.Models ?? [], w.Slots, w.TokensPerSecond)).ToList(),
            summary);
    }
}
