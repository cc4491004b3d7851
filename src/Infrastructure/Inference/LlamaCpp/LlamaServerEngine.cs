using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// The managed-server engine: keeps one llama-server child on 127.0.0.1 (a free port), so the model stays loaded and
/// the prompt cache carries over between turns; streams answers from its OpenAI-style chat endpoint (the server applies
/// the model's chat template). When the child dies or hangs it is started again with a growing delay; stopping the
/// host stops it. Requests beyond Inference:Parallel slots wait in-process. Two parts do the work: the
/// <see cref="LlamaServerSupervisor"/> (the process's life: start, health, hang, restart, stop) and
/// <see cref="LlamaServerRequests"/> (what is asked of it: answers and embeddings).
/// </summary>
public sealed class LlamaServerEngine
    : IInferenceEngine, IEmbeddingEngine, IEngineHealthChanges, IHostedService, IAsyncDisposable
{
    private readonly LlamaCppOptions _options;

    // llama-server closes a keep-alive connection after 5 s idle; dropping ours sooner avoids sending on one it closes.
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    private readonly LlamaServerSupervisor _supervisor;
    private readonly LlamaServerRequests _requests;
    private int _disposed;

    public LlamaServerEngine(LlamaCppOptions options, LlamaCppInstallation installation, ILogger<LlamaServerEngine> logger)
    {
        _options = options;
        _supervisor = new LlamaServerSupervisor(options, installation, _http, logger);
        _requests = new LlamaServerRequests(options, _supervisor, _http, logger);
        _supervisor.HealthChanged += () => HealthChanged?.Invoke();
    }

    public string Name => "LlamaServer";

    /// <summary>Raised when llama-server became ready, stopped, or could not be started.</summary>
    public event Action? HealthChanged;

    /// <summary>The context (tokens) its llama-server runs with, shared by its slots.</summary>
    public int ContextSize => _options.ContextSize;

    /// <summary>How many times llama-server was started (1 + restarts).</summary>
    public int Starts => _supervisor.Starts;

    /// <summary>The guard process of the current llama-server (its only child is llama-server), if one runs.</summary>
    public int? ProcessId => _supervisor.ProcessId;

    /// <summary>How many prompt tokens the last finished answer took from llama-server's prompt cache.</summary>
    public int LastCachedPromptTokens => _requests.LastCachedPromptTokens;

    /// <summary>The server's address once it is ready (for tests and the benchmark's direct calls).</summary>
    public Uri? BaseAddress => _supervisor.Current?.BaseAddress;

    /// <summary>
    /// The API key the running llama-server demands (new at every start), for direct calls beside the engine's own.
    /// Without it llama-server refuses every request but its health check, so no other local process (nor a web page
    /// in the machine's browser) can use the model through its loopback port.
    /// </summary>
    public string ApiKey => _supervisor.Current?.ApiKey ?? "";

    /// <summary>Starts the supervisor; the model loads in the background so the host starts at once.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _supervisor.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _supervisor.StopAsync(cancellationToken);

    /// <summary>Waits until llama-server is ready, or throws <see cref="InferenceFailedException"/> after the startup timeout.</summary>
    public async Task<Uri> WaitUntilReadyAsync(CancellationToken cancellationToken) =>
        (await _supervisor.ReadyRunAsync(after: 0, cancellationToken)).BaseAddress;

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        Task.FromResult(_supervisor.Health());

    /// <summary>
    /// The vectors of the inputs from llama-server's <c>/v1/embeddings</c>, for a model started with
    /// <see cref="LlamaCppOptions.Embeddings"/>; it spreads an array of inputs over its slots itself. The call takes one
    /// of the engine's slots, as an answer does.
    /// </summary>
    public async Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_options.Embeddings)
        {
            throw new InferenceFailedException("This model is not run for embeddings (Inference:Embeddings is false).");
        }

        return await _requests.EmbedAsync(request, cancellationToken);
    }

    public IAsyncEnumerable<InferenceUpdate> GenerateAsync(InferenceRequest request, CancellationToken cancellationToken) =>
        _requests.GenerateAsync(request, cancellationToken);

    /// <summary>Stops llama-server; safe to call more than once (the container disposes it once per registration).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await StopAsync(CancellationToken.None);
        _supervisor.Dispose();
        _requests.Dispose();
        _http.Dispose();
    }
}
