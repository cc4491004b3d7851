using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Packets;

/// <summary>
/// A model host's heartbeat: its health recorded in the shared presence store, its run noted, and the dispatcher woken
/// when the host can take work it could not before. What a heartbeat claims is kept within bounds.
/// </summary>
public sealed class HostHeartbeats(
    IHostPresence presence,
    ModelHosts hosts,
    HostRuns runs,
    Dispatch.QueueWakes wakes,
    IRuntimeSettings settings,
    IClock clock,
    IOptions<RelayOptions> options)
{
    /// <summary>
    /// Notes the heartbeat in <paramref name="envelope"/>. One read late (<paramref name="caughtUp"/>: after a restart)
    /// says nothing about now: a host whose last heartbeat is older than the worker timeout must not count as alive. (A
    /// live one counts whatever the two clocks say.)
    /// </summary>
    public async Task NoteAsync(RelayEnvelope envelope, HeartbeatBody beat, bool caughtUp,
        CancellationToken cancellationToken)
    {
        if (caughtUp && clock.UtcNow - envelope.SentAt > options.Value.WorkerTimeout)
        {
            return;
        }

        // A new run (or a host first heard here, whose last run another process may have heard): what the last one had
        // taken goes out again (the expiry pass, woken now), to it or another host. The run answers a later attempt of a
        // request it read from its last run's channel in that one's place. It counts from when the heartbeat was sent:
        // one read late must not make a later run, which acknowledged meanwhile, look lost.
        var newRun = runs.NoteBoot(beat.WorkerId, beat.BootId, envelope.SentAt);

        // An admin's drain holds for as long as it is stored, whatever the host says: it is sent nothing new.
        var drained = await settings.GetAsync(Admin.SettingKeys.DrainedHost(beat.WorkerId), cancellationToken) is not null;
        var health = new HostHealth(beat.WorkerId, beat.Engine, beat.EngineReady, beat.JobsRunning,
            beat.Draining || drained, beat.LastError, clock.UtcNow, beat.EngineLoading, ServedModels(beat), HostNameOf(beat),
            beat.Slots is { } slots ? Math.Clamp(slots, 1, MaxSlotsPerHost) : null,
            Speed(beat.TokensPerSecond))
        {
            ModelDetails = ModelDetailsOf(beat),
            EngineRestarting = beat.EngineRestarting && !beat.EngineReady,
            TakesTools = beat.TakesTools,
            DrainedByAdmin = drained,
        };
        await presence.RecordAsync(health, cancellationToken);
        if (hosts.NoteHeartbeat(health, beat.BootId, options.Value.WorkerTimeout) || newRun)
        {
            // It can take work it could not before (its engine is back, say), or its last run's work may be lost: what
            // waits goes to it now, not at the dispatcher's next poll.
            wakes.News();
        }
    }

    /// <summary>The model names a heartbeat claims, as far as they are names at all (a handful, each a valid model name).</summary>
    private static IReadOnlyList<string>? ServedModels(HeartbeatBody beat) =>
        beat.Models?.Where(Domain.Common.ModelName.IsValid).Distinct(StringComparer.Ordinal).Take(MaxModelsPerHost).ToList();

    private const int MaxModelsPerHost = 32;

    private const int MaxSlotsPerHost = 1024;

    private const int MaxEmbeddingWidth = 1 << 16;

    private static double? Speed(double? tokensPerSecond) =>
        tokensPerSecond is { } speed && double.IsFinite(speed) && speed > 0 ? Math.Min(speed, 1e6) : null;

    /// <summary>What the host says of each model it lists, within bounds: only models it serves, once each.</summary>
    private static IReadOnlyList<ModelCapacity>? ModelDetailsOf(HeartbeatBody beat)
    {
        if (beat.ModelDetails is null || ServedModels(beat) is not { } served)
        {
            return null;
        }

        return beat.ModelDetails.Where(m => m is not null && served.Contains(m.Name, StringComparer.Ordinal))
            .DistinctBy(m => m.Name, StringComparer.Ordinal)
            .Select(m => new ModelCapacity(m.Name,
                m.Slots is { } slots ? Math.Clamp(slots, 1, MaxSlotsPerHost) : null,
                m.ContextSize is { } context ? Math.Clamp(context, 1, 1 << 24) : null,
                Math.Clamp(m.Jobs, 0, MaxSlotsPerHost),
                Speed(m.TokensPerSecond),
                m.Embeddings,
                m.Embeddings && m.EmbeddingWidth is { } width ? Math.Clamp(width, 1, MaxEmbeddingWidth) : null,
                m.Embeddings && m.Dimensions,
                m.Vision))
            .ToList();
    }

    /// <summary>The host's name as far as it is one: printable, at most 64 characters.</summary>
    private static string? HostNameOf(HeartbeatBody beat) =>
        beat.HostName is { Length: > 0 } name
            ? new string(name.Where(c => !char.IsControl(c)).Take(64).ToArray()) is { Length: > 0 } clean ? clean : null
            : null;
}
