using MeatLizard.Application.Abstractions;

namespace MeatLizard.Distributed.Tests.Support;

/// <summary>What a test changes about the cluster: its own PostgreSQL or Redis, settings of the server bots or of one API instance.</summary>
public sealed record ClusterOptions
{
    /// <summary>Settings (environment variables) of every process the cluster starts, over the cluster's own.</summary>
    public IReadOnlyDictionary<string, string> SharedSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// When set, the client bot runs as a process of its own (Presentation.DiscordClient) with these extra environment
    /// variables (its engine: e.g. Inference__Engine=LlamaServer); when null it runs in the test process.
    /// </summary>
    public IReadOnlyDictionary<string, string>? ClientBotProcess { get; init; }

    /// <summary>
    /// When set, the cluster runs one client bot process per entry instead of the one client bot, each a Discord bot of
    /// its own (a model host), with the entry's extra environment variables (its engine and models).
    /// </summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>>? ModelHosts { get; init; }

    /// <summary>
    /// With true, the model hosts dial the first API instance over the direct relay (Relay:Transport=Direct, issue 39)
    /// instead of relaying through a server bot and Discord: that instance dispatches (Relay:Dispatcher=Local) and runs
    /// the relay's server end, the second one queues beside it (External), and no server bot or Discord runs. The
    /// client bot dials through <see cref="Cluster.HostNetwork"/>, with a host token made by the API's <c>hosts add</c>.
    /// </summary>
    public bool DirectRelay { get; init; }

    /// <summary>
    /// With <see cref="DirectRelay"/>: both API instances run the direct relay (each dispatches, to the hosts connected to
    /// it), and <see cref="Cluster.HostNetwork"/> takes each of the host's dials to the first that answers, as a load
    /// balancer in front of them does — the second once the first is gone.
    /// </summary>
    public bool DirectRelayOnEveryInstance { get; init; }

    /// <summary>The in-process client bot's engine; the cluster's <see cref="Cluster.Engine"/> when null.</summary>
    public IInferenceEngine? InProcessEngine { get; init; }

    /// <summary>Settings of the in-process client bot, over the cluster's own (configuration keys, "Relay:…").</summary>
    public IReadOnlyDictionary<string, string> InProcessClientBotSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>The PostgreSQL server (its maintenance database) the cluster's database is created on; the shared one when null.</summary>
    public string? Postgres { get; init; }

    /// <summary>The Redis every process uses (host:port); the shared test server when null.</summary>
    public string? Redis { get; init; }

    /// <summary>Extra environment variables of every server bot (the first, and a second one beside it).</summary>
    public IReadOnlyDictionary<string, string> ServerBotSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>Extra environment variables of API instance <c>i</c> (0-based).</summary>
    public Func<int, IReadOnlyDictionary<string, string>> ApiSettings { get; init; } = _ => new Dictionary<string, string>();
}
