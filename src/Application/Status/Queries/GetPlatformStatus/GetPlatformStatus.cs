using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Status.Queries;

/// <summary>
/// One model host; <paramref name="Loading"/>: not ready yet, loading its model (messages wait for it);
/// <paramref name="Slots"/>: how many it answers at once (null: it does not say); <paramref name="TokensPerSecond"/>: its
/// measured speed (null before its first answer); <paramref name="ModelDetails"/>: each model's own slots, context
/// size, running requests and speed, when the host runs its models apart (null: it reported none).
/// </summary>
public sealed record WorkerStatusDto(
    Guid Id, string Engine, bool Ready, int JobsRunning, bool Draining, string? LastError, DateTimeOffset LastSeen,
    bool Loading, string? Name = null, IReadOnlyList<string>? Models = null, int? Slots = null,
    double? TokensPerSecond = null, IReadOnlyList<ModelCapacity>? ModelDetails = null, bool DrainedByAdmin = false);

/// <summary>
/// One model: the hosts online that serve it, their slots (null when a host does not say), how many of those are free,
/// and how many messages wait for it.
/// </summary>
public sealed record ModelStatusDto(string Name, int Hosts, int? Slots, int? FreeSlots, int Waiting, bool IsDefault);

/// <summary>
/// What a user (or operator) needs to know about the platform right now. <paramref name="ServerBots"/>: the server bots
/// running now (one or a pair), each as its machine and process id (admins) or its place in the list; null when this
/// deployment relays in-process and has none.
/// </summary>
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
    string Summary,
    IReadOnlyList<ModelStatusDto>? Models = null,
    IReadOnlyList<string>? ServerBots = null);

public sealed record GetPlatformStatus : IRequest<PlatformStatusDto>;

public sealed class GetPlatformStatusHandler(PlatformStatusReader status) : IRequestHandler<GetPlatformStatus, PlatformStatusDto>
{
    public Task<PlatformStatusDto> Handle(GetPlatformStatus request, CancellationToken cancellationToken) =>
        status.ReadAsync(cancellationToken);
}

/// <summary>Reads the platform's status: for everyone (<see cref="GetPlatformStatus"/>) and in the admins' status.</summary>
public sealed class PlatformStatusReader(
    IHostPresence presence, IChatReadModel reads, IRelayRequestRepository requests, Common.ChatModels models,
    PlatformDescription platform, IFallbackResponder fallback, ServerBotsOnline serverBots)
{
    public async Task<PlatformStatusDto> ReadAsync(CancellationToken cancellationToken)
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
                w.LastError, w.SeenAt, w.EngineLoading, w.HostName, w.Models ?? [], w.Slots, w.TokensPerSecond,
                w.ModelDetails, w.DrainedByAdmin)).ToList(),
            summary,
            await ModelsAsync(workers, cancellationToken),
            platform.Transport == "InProcess" ? null : await serverBots.ListAsync(cancellationToken));
    }

    /// <summary>The default model, every model an accepting host serves, and every model messages wait for.</summary>
    private async Task<IReadOnlyList<ModelStatusDto>> ModelsAsync(IReadOnlyList<HostHealth> workers,
        CancellationToken cancellationToken)
    {
        var defaultModel = await models.DefaultAsync(cancellationToken);
        var waiting = await reads.CountWaitingByModelAsync(cancellationToken);
        var hosts = workers.Where(w => w.Accepts).ToList();
        var inFlight = hosts.Count > 0 ? await requests.CountInFlightByHostAsync(cancellationToken) : [];
        var names = new SortedSet<string>(StringComparer.Ordinal) { defaultModel };
        names.UnionWith(hosts.SelectMany(h => h.Models ?? []));
        names.UnionWith(waiting.Keys.Where(k => k.Length > 0));
        return names.Select(name =>
        {
            var isDefault = name == defaultModel;
            // The default goes to any host when none lists it by name (as the dispatcher places it).
            var serving = hosts.Where(h => h.Models?.Contains(name, StringComparer.Ordinal) == true).ToList();
            if (serving.Count == 0 && isDefault)
            {
                serving = hosts;
            }

            // A host with slots per model offers this model its own slots; one whose models share them, all of its.
            var slots = serving.All(h => h.Slots is not null) ? serving.Sum(h => h.SlotsFor(name) ?? h.Slots!.Value) : (int?)null;
            var free = slots is null ? null : (int?)serving.Sum(h => FreeFor(h, name, inFlight));
            var queued = waiting.GetValueOrDefault(name) + (isDefault ? waiting.GetValueOrDefault("") : 0);
            return new ModelStatusDto(name, serving.Count, slots, free, queued, isDefault);
        }).ToList();
    }

    /// <summary>The host's free slots for <paramref name="model"/>: its own (when it has slots per model) within the host's.</summary>
    private static int FreeFor(HostHealth host, string model, IReadOnlyList<InFlightCount> inFlight)
    {
        var onHost = inFlight.Where(c => c.WorkerId == host.WorkerId).ToList();
        var free = Math.Max(0, host.Slots!.Value - onHost.Sum(c => c.Requests));
        return host.SlotsFor(model) is { } own
            ? Math.Min(free, Math.Max(0, own - onHost.Where(c => host.ModelFor(c.RoutedModel) == model).Sum(c => c.Requests)))
            : free;
    }
}
