
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// What a worker reports about itself in each heartbeat. <paramref name="EngineLoading"/>: not ready yet, but loading
/// its model (requests sent to it wait there and are answered once it is ready).
/// </summary>
public sealed record HostHealth(
    Guid WorkerId, string Engine, bool EngineReady, int JobsRunning, bool Draining, string? LastError,
    DateTimeOffset SeenAt, bool EngineLoading = false, IReadOnlyList<string>? Models = null, string? HostName = null,
    int? Slots = null, double? TokensPerSecond = null)
{
    /// <summary>
    /// Whether this host serves <paramref name="model"/>: the host's default when none is named, else one it lists.
    /// A host that lists none (it runs an engine that does not name its model) serves whatever it is sent.
    /// </summary>
    public bool Serves(string? model) =>
        model is null || Models is not { Count: > 0 } || Models.Contains(model, StringComparer.Ordinal);

    /// <summary>Every model it serves takes tools (OpenAI's function calling).</summary>
    public bool TakesTools { get; init; }

    /// <summary>Whether a request for <paramref name="model"/> with tools may go here: it serves the model, which takes tools.</summary>
    public bool TakesToolsFor(string? model) => TakesTools && Serves(model);

    /// <summary>Whether a request for <paramref name="model"/> (null: the host's default) with images may go here.</summary>
    public bool TakesImagesFor(string? model) =>
        Serves(model) && ModelDetails?.Any(m => m.Name == ModelFor(model) && m.Vision) == true;

    /// <summary>
    /// What the host says of <paramref name="model"/> (null: the host's default) when it makes embeddings with it; null
    /// when it does not (or does not say).
    /// </summary>
    public ModelCapacity? EmbeddingsOf(string? model) =>
        Serves(model) && ModelFor(model) is { } name
            ? ModelDetails?.FirstOrDefault(m => m.Name == name && m.Embeddings)
            : null;

    /// <summary>Each model's slots, jobs and speed, as the host reported them; null when it reported none.</summary>
    public IReadOnlyList<ModelCapacity>? ModelDetails { get; init; }

    /// <summary>The model a request for <paramref name="model"/> runs on here: that one, or the host's default (its first).</summary>
    public string? ModelFor(string? model) => model ?? Models?.FirstOrDefault();

    /// <summary>
    /// The slots of <paramref name="model"/> (null: the host's default) when the host runs it apart from its other
    /// models; null when its models share the host's slots.
    /// </summary>
    public int? SlotsFor(string? model) =>
        ModelFor(model) is { } name ? ModelDetails?.FirstOrDefault(m => m.Name == name)?.Slots : null;

    /// <summary>
    /// Its engine died and is being started again: requests for its models wait in the queue for it (or another host)
    /// rather than fall back, but none is sent to it until it is ready.
    /// </summary>
    public bool EngineRestarting { get; init; }

    /// <summary>
    /// An admin drained it (<c>POST /admin/hosts/{id}/drain</c>): it finishes what it runs and is sent nothing new, as
    /// while it shuts down (<see cref="Draining"/> is set too), until an admin undrains it.
    /// </summary>
    public bool DrainedByAdmin { get; init; }

    /// <summary>
    /// Whether this worker counts for the requests of its models: it answers now, once its model has loaded, or once its
    /// engine is back (<see cref="EngineRestarting"/>).
    /// </summary>
    public bool Accepts => !Draining && (EngineReady || EngineLoading || EngineRestarting);

    /// <summary>Whether requests may be sent to this worker now: it accepts them and its engine is not starting again.</summary>
    public bool TakesWork => Accepts && !EngineRestarting;
}

/// <summary>Which workers sent a heartbeat recently.</summary>
public interface IHostPresence
{
    ValueTask RecordAsync(HostHealth health, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<HostHealth>> ListAliveAsync(CancellationToken cancellationToken);
}
