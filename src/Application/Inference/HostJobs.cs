using System.Collections.Concurrent;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Inference;

namespace MeatLizard.Application.Inference;

/// <summary>The jobs this worker is running, whether it is draining, and the last error it saw.</summary>
public sealed class HostJobs
{
    private readonly ConcurrentDictionary<Guid, RunningJob> _running = new();

    /// <summary>
    /// A worker of its own identity (<see cref="IHostIdentity"/>, kept across restarts), or of a new one per process
    /// when none is registered.
    /// </summary>
    public HostJobs(Abstractions.IHostIdentity? identity = null, Abstractions.IBegunJobs? begun = null)
    {
        WorkerId = identity?.WorkerId ?? Guid.NewGuid();
        _begun = begun ?? new Abstractions.NoBegunJobs();
    }

    private readonly Abstractions.IBegunJobs _begun;

    /// <summary>Identifies this model host in heartbeats, acks and the requests addressed to it.</summary>
    public Guid WorkerId { get; }

    /// <summary>
    /// This run of the host: a new one tells the server that whatever the host had before (a crash, a restart) is gone,
    /// so those requests go back to the queue instead of holding its slots until they time out.
    /// </summary>
    public Guid BootId { get; } = Guid.NewGuid();

    /// <summary>
    /// The models this host serves, as its last heartbeat told the server (the engine's own list when it has one — an
    /// OpenAI-compatible server's, several llama-servers' — else the configured name); null before the first.
    /// </summary>
    public IReadOnlyList<string>? ServedModels { get; set; }

    public bool Draining { get; private set; }

    public string? LastError { get; private set; }

    public int Count => _running.Count;

    /// <summary>Requests read late (after a restart) whose answer the server had already given up on: not run.</summary>
    public long SkippedGivenUp => Interlocked.Read(ref _skippedGivenUp);

    private readonly Lock _speedLock = new();
    private long _skippedGivenUp;
    private long _forAnotherHost;
    private double _tokensPerSecond;
    private readonly Dictionary<string, double> _modelSpeeds = new(StringComparer.Ordinal);

    public void CountGivenUp() => Interlocked.Increment(ref _skippedGivenUp);

    /// <summary>
    /// Requests read again after a restart whose attempt the last run had begun: not answered again from the beginning
    /// (the server sends them again as a new attempt, going on from what was shown).
    /// </summary>
    public long SkippedBegunBefore => Interlocked.Read(ref _skippedBegunBefore);

    private long _skippedBegunBefore;

    /// <summary>Whether an earlier run of this host began <paramref name="attempt"/> of the request.</summary>
    public bool BegunByAnEarlierRun(Guid requestId, int attempt) => _begun.BegunByAnEarlierRun(requestId, attempt);

    public void CountBegunBefore() => Interlocked.Increment(ref _skippedBegunBefore);

    /// <summary>Notes that this run sent the server an envelope for <paramref name="attempt"/> of the request.</summary>
    public void NoteBegun(Guid requestId, int attempt) => _begun.Begin(requestId, attempt);

    /// <summary>Requests left alone because the server chose another model host for them.</summary>
    public long ForAnotherHost => Interlocked.Read(ref _forAnotherHost);

    public void CountForAnotherHost() => Interlocked.Increment(ref _forAnotherHost);

    /// <summary>
    /// Generated tokens per second over the answers so far, recent ones weighing most (each new answer a fifth);
    /// null before the first. The server estimates waiting times from it.
    /// </summary>
    public double? TokensPerSecond
    {
        get
        {
            lock (_speedLock)
            {
                return _tokensPerSecond > 0 ? Math.Round(_tokensPerSecond, 2) : null;
            }
        }
    }

    /// <summary>Records an answer's speed, overall and for the model that wrote it (when known).</summary>
    public void RecordSpeed(int completionTokens, TimeSpan generation, string? model = null)
    {
        if (completionTokens <= 0 || generation <= TimeSpan.Zero)
        {
            return;
        }

        var speed = completionTokens / generation.TotalSeconds;
        lock (_speedLock)
        {
            _tokensPerSecond = Smoothed(_tokensPerSecond, speed);
            if (model is not null && (_modelSpeeds.ContainsKey(model) || _modelSpeeds.Count < MaxModelsTracked))
            {
                _modelSpeeds[model] = Smoothed(_modelSpeeds.GetValueOrDefault(model), speed);
            }
        }
    }

    private const int MaxModelsTracked = 64;

    private static double Smoothed(double before, double speed) => before == 0 ? speed : (0.8 * before) + (0.2 * speed);

    /// <summary>
    /// Each model this host serves (<paramref name="models"/>) with what the engine says of it (its own slots and
    /// context, when it runs it apart), the requests running for it now and its measured speed.
    /// </summary>
    /// <remarks>
    /// A model the engine makes embeddings with (<paramref name="embeddings"/>) or takes images with (<paramref name="vision"/>) says so.
    /// </remarks>
    public IReadOnlyList<Abstractions.ModelCapacity> Capacities(
        IReadOnlyList<string> models, IReadOnlyList<Abstractions.ModelCapacity>? fromEngine,
        IReadOnlyList<Abstractions.EmbeddingModel>? embeddings = null, IReadOnlyList<string>? vision = null)
    {
        var running = _running.Values.GroupBy(r => r.Model ?? "").ToDictionary(g => g.Key, g => g.Count());
        lock (_speedLock)
        {
            return models.Select((name, i) =>
            {
                var engine = fromEngine?.FirstOrDefault(c => c.Name == name);
                // A request that named no model runs on the host's first.
                var jobs = running.GetValueOrDefault(name) + (i == 0 ? running.GetValueOrDefault("") : 0);
                // An engine of one model names it "" (it does not know the host's name for it).
                var embedding = embeddings?.FirstOrDefault(e => e.Name == name || (i == 0 && e.Name.Length == 0));
                return new Abstractions.ModelCapacity(name, engine?.Slots, engine?.ContextSize, jobs,
                    _modelSpeeds.TryGetValue(name, out var speed) ? Math.Round(speed, 2) : null,
                    embedding is not null, embedding?.Width, embedding?.Dimensions == true,
                    vision?.Any(v => v == name || (i == 0 && v.Length == 0)) == true);
            }).ToList();
        }
    }

    /// <summary>
    /// Adds a job for <paramref name="model"/> (null: the host's default), the request's <paramref name="attempt"/>; false
    /// when the request is already running (<paramref name="running"/> is then the one that runs).
    /// </summary>
    public bool TryAdd(InferenceJob job, CancellationTokenSource cancellation, out RunningJob running, string? model = null,
        int attempt = 1)
    {
        var added = new RunningJob(job, cancellation) { Model = model, Attempt = attempt };
        running = _running.GetOrAdd(job.RequestId.Value, added);
        return ReferenceEquals(running, added);
    }

    public void Remove(Guid requestId)
    {
        if (_running.TryRemove(requestId, out var job))
        {
            job.Cancellation.Dispose();
        }
    }

    /// <summary>Stops a running job; false when there is none with that id.</summary>
    public bool Cancel(Guid requestId)
    {
        if (!_running.TryGetValue(requestId, out var job))
        {
            return false;
        }

        try
        {
            job.Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It finished meanwhile.
        }

        return true;
    }

    public void RecordError(string error) => LastError = error;

    /// <summary>From now on new requests are refused; running ones finish.</summary>
    public void StartDraining() => Draining = true;

    /// <summary>
    /// Waits until every running job has finished or the deadline passes (or <paramref name="cancellationToken"/>, the
    /// host's own shutdown limit, fires), then stops what is left; each job stopped so tells its user.
    /// </summary>
    /// <returns>How many jobs had to be stopped.</returns>
    public async Task<int> DrainAsync(TimeSpan deadline, CancellationToken cancellationToken)
    {
        StartDraining();
        var tasks = _running.Values.Select(j => j.Completion).ToArray();
        await Task.WhenAny(Task.WhenAll(tasks), FullDelay.WaitAsync(deadline, cancellationToken));
        var stopped = 0;
        foreach (var job in _running.Values)
        {
            if (job.StopForShutdown())
            {
                stopped++;
            }
        }

        await Task.WhenAll(_running.Values.Select(j => j.Completion));
        return stopped;
    }
}
