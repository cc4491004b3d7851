using MeatLizard.Application.Common;
using Microsoft.Extensions.Options;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;

namespace MeatLizard.Application.Inference.Commands;

/// <summary>Tells the server this worker is alive, on the control channel, with its health.</summary>
public sealed record SendHostHeartbeat : IRequest<MediatR.Unit>;

public sealed class SendHostHeartbeatHandler(
    HostEngine workerEngine, HostJobs jobs, HostRelay relay, IOptions<InferenceOptions> inference,
    IOptions<ModelHostOptions> worker)
    : IRequestHandler<SendHostHeartbeat, MediatR.Unit>
{
    // Numbered on from the clock (milliseconds, wrapping every 24 days): a host keeps its id across restarts, so a
    // restarted one must not number its heartbeats as the last run did, or the replay guard refuses them as repeats.
    private static int s_seq = (int)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() % int.MaxValue);

    public async Task<MediatR.Unit> Handle(SendHostHeartbeat request, CancellationToken cancellationToken)
    {
        var engine = workerEngine.Required;
        var health = await engine.CheckHealthAsync(cancellationToken);
        var models = jobs.ServedModels = health.Models ?? inference.Value.ServedModelNames();
        var body = new HeartbeatBody(jobs.WorkerId, engine.Name, health.Ready, jobs.Count, jobs.Draining,
            // Not ready: why not now (its breaker open, its model loading) says more than the last job's failure.
            health.Ready ? jobs.LastError : health.Detail ?? jobs.LastError,
            !health.Ready && (health.Loading || health.Restarting),
            models, worker.Value.HostName, health.Slots, jobs.TokensPerSecond,
            jobs.BootId, jobs.Capacities(models, health.Capacities ?? OneModel(models, engine.Name, inference.Value),
                health.Embeddings, health.Vision),
            EngineRestarting: !health.Ready && health.Restarting, TakesTools: health.TakesTools);

        // The worker id stands in for the request id, so (worker, heartbeat, seq) never repeats.
        await relay.SendAsync(EnvelopeType.Heartbeat, null, jobs.WorkerId, Interlocked.Increment(ref s_seq), body,
            cancellationToken);
        return MediatR.Unit.Value;
    }

    /// <summary>
    /// A llama.cpp host of one model: its context is the configured one (its slots are the host's, already said). Other
    /// engines do not say theirs.
    /// </summary>
    private static IReadOnlyList<ModelCapacity>? OneModel(IReadOnlyList<string> models, string engine, InferenceOptions inference) =>
        models.Count == 1 && engine.StartsWith("Llama", StringComparison.Ordinal)
            ? [new ModelCapacity(models[0], ContextSize: inference.ContextSize)]
            : null;
}
