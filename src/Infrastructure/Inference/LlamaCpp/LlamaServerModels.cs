using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// The managed-server engine for a host that serves several models (Inference:Models): one
/// <see cref="LlamaServerEngine"/> — one llama-server with its own port, key, slots and context — per model, and each
/// request answered by the one its model names (a request that names none by the first). The host is ready when every
/// model is; its slots are theirs together.
/// </summary>
public sealed class LlamaServerModels
    : IInferenceEngine, IEmbeddingEngine, IEngineHealthChanges, IHostedService, IAsyncDisposable
{
    private readonly IReadOnlyList<(string Name, LlamaServerEngine Engine)> _engines;

    public LlamaServerModels(IReadOnlyList<(string Name, LlamaServerEngine Engine)> engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        if (engines.Count == 0)
        {
            throw new ArgumentException("At least one model is needed.", nameof(engines));
        }

        _engines = engines;
        foreach (var (_, engine) in engines)
        {
            engine.HealthChanged += () => HealthChanged?.Invoke();
        }
    }

    /// <summary>Raised when one model's llama-server became ready, stopped, or could not be started.</summary>
    public event Action? HealthChanged;

    public string Name => "LlamaServer";

    /// <summary>The public names of the models served, in the order configured.</summary>
    public IReadOnlyList<string> Models => [.. _engines.Select(e => e.Name)];

    /// <summary>The engine of one model (for tests and diagnostics).</summary>
    public LlamaServerEngine this[string model] => _engines.Single(e => e.Name == model).Engine;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (_, engine) in _engines)
        {
            await engine.StartAsync(cancellationToken);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken) =>
        await Task.WhenAll(_engines.Select(e => e.Engine.StopAsync(cancellationToken)));

    public async Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken)
    {
        var healths = new List<(string Name, EngineHealth Health)>(_engines.Count);
        foreach (var (name, engine) in _engines)
        {
            healths.Add((name, await engine.CheckHealthAsync(cancellationToken)));
        }

        var slots = healths.Sum(h => h.Health.Slots ?? 0);
        // Each model has its own llama-server, so its own slots: the relay counts them apart.
        var capacities = _engines.Select((e, i) => new ModelCapacity(e.Name, healths[i].Health.Slots, e.Engine.ContextSize)).ToList();
        if (healths.All(h => h.Health.Ready))
        {
            // The host says it for all its models: it takes tools only when each model's template writes tool calls.
            return new EngineHealth(true, null, Slots: slots, Models: Models)
            {
                Capacities = capacities,
                // An embedding model (llama-server with --embeddings) writes no answers: tools are for the others.
                TakesTools = healths.Where(h => h.Health.Embeddings is not { Count: > 0 }).All(h => h.Health.TakesTools),
                Embeddings = [.. healths.Where(h => h.Health.Embeddings is { Count: > 0 })
                    .Select(h => h.Health.Embeddings![0] with { Name = h.Name })],
                Vision = [.. healths.Where(h => h.Health.Vision is { Count: > 0 }).Select(h => h.Name)],
            };
        }

        // Waiting is worth it only while every model that is not ready is still loading or starting again. A model
        // starting again does not stop the host's others: its requests wait for it here.
        var notReady = healths.Where(h => !h.Health.Ready).ToList();
        var (failing, health) = notReady.FirstOrDefault(h => !h.Health.Loading && !h.Health.Restarting) is { Name: not null } failed
            ? failed
            : notReady[0];
        return new EngineHealth(false, $"{failing}: {health.Detail}",
            Loading: notReady.All(h => h.Health.Loading || h.Health.Restarting),
            Slots: slots, Models: Models) { Capacities = capacities };
    }

    /// <summary>The vectors from the llama-server of the model the request names (none named: the first).</summary>
    public Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return EngineOf(request.Model).EmbedAsync(request, cancellationToken);
    }

    private LlamaServerEngine EngineOf(string? model) =>
        model is null
            ? _engines[0].Engine
            : _engines.FirstOrDefault(e => e.Name == model).Engine
              ?? throw new InferenceFailedException(
                  $"This model host does not serve the model '{model}'; it serves {string.Join(", ", Models)}.");

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var engine = EngineOf(request.Model);
        await foreach (var update in engine.GenerateAsync(request, cancellationToken))
        {
            yield return update;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, engine) in _engines)
        {
            await engine.DisposeAsync();
        }
    }
}
