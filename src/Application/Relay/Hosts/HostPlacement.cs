using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// One batch's choices: each request goes to a host that serves its model and has a free slot, the least loaded
/// (fewest in flight for its slots) among several. A host that does not say how many slots it has takes any number.
/// </summary>
public sealed class HostPlacement(IReadOnlyList<HostHealth> hosts, IReadOnlyList<InFlightCount> inFlight,
    SemaphoreSlim? held, Func<HostHealth, bool> paused) : IAsyncDisposable
{
    private SemaphoreSlim? _held = held;

    /// <summary>Lets the next dispatch count; once, however often it is called.</summary>
    public ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _held, null)?.Release();
        return ValueTask.CompletedTask;
    }

    private readonly Dictionary<Guid, int> _inFlight = hosts.ToDictionary(h => h.WorkerId,
        h => inFlight.Where(c => c.WorkerId == h.WorkerId).Sum(c => c.Requests));

    /// <summary>In flight per host and model (the host's default by its name), for hosts with slots per model.</summary>
    private readonly Dictionary<(Guid Host, string Model), int> _modelInFlight = ModelCounts(hosts, inFlight);

    private static Dictionary<(Guid, string), int> ModelCounts(IReadOnlyList<HostHealth> hosts, IReadOnlyList<InFlightCount> inFlight)
    {
        var counts = new Dictionary<(Guid, string), int>();
        foreach (var host in hosts.Where(h => h.ModelDetails is not null))
        {
            foreach (var count in inFlight.Where(c => c.WorkerId == host.WorkerId))
            {
                if (host.ModelFor(count.RoutedModel) is { } model)
                {
                    counts[(host.WorkerId, model)] = counts.GetValueOrDefault((host.WorkerId, model)) + count.Requests;
                }
            }
        }

        return counts;
    }

    public IReadOnlyList<HostHealth> Hosts => hosts;

    /// <summary>Free slots over all hosts; <see cref="int.MaxValue"/> when a host has no limit.</summary>
    public int FreeSlots
    {
        get
        {
            long free = 0;
            foreach (var host in hosts.Where(h => h.TakesWork))
            {
                if (host.Slots is not { } slots)
                {
                    return int.MaxValue;
                }

                free += Math.Max(0, slots - _inFlight[host.WorkerId]);
            }

            return (int)Math.Min(free, int.MaxValue);
        }
    }

    /// <summary>
    /// The model a request is routed by: null (any host, with its own default model) when it names none, or names the
    /// configured default (<paramref name="defaultModel"/>) and no host lists a model of that name.
    /// </summary>
    public string? RouteBy(string? model, string defaultModel) =>
        model is null || (model == defaultModel && !hosts.Any(h => h.Models?.Contains(model, StringComparer.Ordinal) == true))
            ? null
            : model;

    /// <summary>
    /// Whether some accepting host serves <paramref name="model"/> (busy or not) — with <paramref name="tools"/>, one whose
    /// model takes tools; with <paramref name="images"/>, one whose model takes images.
    /// </summary>
    public bool AnyServes(string? model, bool tools = false, bool images = false) =>
        hosts.Any(h => Fits(h, model, tools, images));

    /// <summary>
    /// The live hosts that accept requests but are reached through another process (another API instance they dialled,
    /// <see cref="IRelayReach"/>): a request only they serve is that process's dispatcher's to place.
    /// </summary>
    public IReadOnlyList<HostHealth> Elsewhere { get; init; } = [];

    /// <summary>
    /// Whether the hosts were kept from a moment ago while other processes reach hosts this one never hears from (the
    /// direct relay's other API instances): one serving a model none here serves may have come online there since, so
    /// such a request is looked at again, with the hosts read afresh, before it is told that no host serves its model.
    /// </summary>
    public bool MayMissHostsElsewhere { get; init; }

    /// <summary>
    /// The run of a host (its heartbeats' boot id) this process heard last; null when it heard none. A dispatch names it
    /// (<see cref="Domain.Relay.RelayRequest.SentToRun"/>): should a later run be heard, a process that never heard this
    /// one still knows the request cannot be with the host any more (<see cref="QuietHosts.LostInARestart"/>).
    /// </summary>
    public Func<Guid, Guid?> RunOf { get; init; } = _ => null;

    /// <summary>Whether a host in <see cref="Elsewhere"/> serves the request, as <see cref="AnyServes"/> asks.</summary>
    public bool ServedElsewhere(string? model, bool tools, bool images) => Elsewhere.Any(h => Fits(h, model, tools, images));

    private static bool Fits(HostHealth host, string? model, bool tools, bool images) =>
        (tools ? host.TakesToolsFor(model) : host.Serves(model)) && (!images || host.TakesImagesFor(model));

    /// <summary>The models the accepting hosts serve, by name.</summary>
    public IReadOnlyList<string> Models =>
        hosts.SelectMany(h => h.Models ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The host for a request of <paramref name="model"/> (with <paramref name="tools"/>: whose model takes tools), counted
    /// as one more in flight; null when all are full.
    /// </summary>
    public HostHealth? Take(string? model, bool tools = false, bool images = false)
    {
        HostHealth? best = null;
        var bestLoad = double.MaxValue;
        foreach (var host in hosts)
        {
            if (!Fits(host, model, tools, images) || !host.TakesWork || paused(host))
            {
                continue;
            }

            var running = _inFlight[host.WorkerId];
            if (host.Slots is { } slots && running >= slots)
            {
                continue;
            }

            // A model run apart (its own llama-server) takes no more than its own slots, whatever the others have free.
            if (host.SlotsFor(model) is { } modelSlots
                && _modelInFlight.GetValueOrDefault((host.WorkerId, host.ModelFor(model)!)) >= modelSlots)
            {
                continue;
            }

            var load = host.Slots is { } s ? (double)running / s : running;
            if (load < bestLoad)
            {
                (best, bestLoad) = (host, load);
            }
        }

        if (best is not null)
        {
            _inFlight[best.WorkerId]++;
            if (best.ModelFor(model) is { } name)
            {
                _modelInFlight[(best.WorkerId, name)] = _modelInFlight.GetValueOrDefault((best.WorkerId, name)) + 1;
            }
        }

        return best;
    }
}
