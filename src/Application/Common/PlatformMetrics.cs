using System.Data.Common;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Common;

/// <summary>
/// The platform's instruments on the <c>MeatLizard</c> meter: what users asked, how the relay answered and what
/// refused them. Labels stay bounded — kinds, sources, scopes, outcomes and model names; never a user, a chat or text.
/// Each record is one instrument call; tags go through <see cref="TagList"/>, which allocates nothing for up to eight.
/// </summary>
public sealed class PlatformMetrics
{
    public const string MeterName = "MeatLizard";

    /// <summary>Sent when a model is not named by the chat, the user or the configuration.</summary>
    public const string DefaultModel = "default";

    private static readonly double[] s_secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private static readonly double[] s_tokenRateBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

    private readonly Counter<long> _sent;
    private readonly Counter<long> _answers;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _roundTrip;
    private readonly Histogram<double> _tokenRate;
    private readonly Counter<long> _embeddingInputs;
    private readonly Counter<long> _embeddingTokens;
    private readonly Counter<long> _refusals;
    private readonly UpDownCounter<long> _openStreams;
    private readonly Counter<long> _databaseErrors;
    private readonly Counter<long> _cacheLookups;
    private long _queueDepth = -1;
    private long _workersOnline = -1;
    private IReadOnlyList<ModelSample> _models = [];

    public PlatformMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _sent = meter.CreateCounter<long>("meatlizard.messages.sent", "{message}",
            "Messages accepted for an answer, by kind (send, ask_again, edit, openai)");
        _answers = meter.CreateCounter<long>("meatlizard.answers", "{message}",
            "Answers stored, by source (model, fallback, notice)");
        _queueWait = meter.CreateHistogram("meatlizard.relay.queue.wait", "s",
            "Time a request waited queued before it was dispatched, by model", advice: Seconds());
        _roundTrip = meter.CreateHistogram("meatlizard.relay.round_trip", "s",
            "Time from dispatch to the request's outcome (the relay and the model), by outcome", advice: Seconds());
        _tokenRate = meter.CreateHistogram("meatlizard.inference.tokens_per_second", "{token}/s",
            "Generated tokens per second of an answer, as the model host reported it",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_tokenRateBuckets });
        _embeddingInputs = meter.CreateCounter<long>("meatlizard.embeddings.inputs", "{input}",
            "Inputs turned into vectors by /v1/embeddings");
        _embeddingTokens = meter.CreateCounter<long>("meatlizard.embeddings.tokens", "{token}",
            "Tokens the model hosts read for /v1/embeddings");
        _refusals = meter.CreateCounter<long>("meatlizard.rate_limit.refusals", "{request}",
            "Requests refused by a rate or concurrency limit, by scope");
        _openStreams = meter.CreateUpDownCounter<long>("meatlizard.streams.open", "{stream}",
            "Streams open now, by kind (sse, websocket, openai)");
        _databaseErrors = meter.CreateCounter<long>("meatlizard.database.errors", "{error}",
            "Database failures met, by kind (outage: unreachable or restarting; error: anything else)");
        _cacheLookups = meter.CreateCounter<long>("meatlizard.answer_cache.lookups", "{question}",
            "Deterministic questions looked up in the answer cache (Cache:Answers), by result (hit, miss)");
        meter.CreateObservableGauge("meatlizard.relay.queue.depth", () => Observed(_queueDepth), "{request}",
            "Requests queued and not yet dispatched (sampled)");
        meter.CreateObservableGauge("meatlizard.workers.online", () => Observed(_workersOnline), "{worker}",
            "Model workers online and accepting work (sampled)");
        meter.CreateObservableGauge("meatlizard.model.queue.waiting",
            () => PerModel(m => m.Waiting), "{request}", "Requests waiting in each model's queue (sampled)");
        meter.CreateObservableGauge("meatlizard.model.hosts",
            () => PerModel(m => m.Hosts), "{host}", "Model hosts online serving each model (sampled)");
        meter.CreateObservableGauge("meatlizard.model.slots.free",
            () => PerModel(m => m.FreeSlots), "{slot}",
            "Free slots over the hosts serving each model (sampled; absent when a host does not say its slots)");
    }

    public void AnswerCacheLookedUp(bool hit) => _cacheLookups.Add(1, new TagList { { "result", hit ? "hit" : "miss" } });

    /// <summary>An embeddings request answered: its inputs and the tokens the hosts read.</summary>
    public void Embedded(int inputs, int promptTokens)
    {
        _embeddingInputs.Add(inputs);
        _embeddingTokens.Add(promptTokens);
    }

    public void MessageSent(string kind) => _sent.Add(1, new TagList { { "kind", kind } });

    public void AnswerStored(MessageSource source) => _answers.Add(1, new TagList { { "source", SourceName(source) } });

    public void Dispatched(string? model, TimeSpan queued) =>
        _queueWait.Record(Math.Max(0, queued.TotalSeconds), new TagList { { "model", model ?? DefaultModel } });

    public void RequestEnded(string outcome, TimeSpan sinceDispatch) =>
        _roundTrip.Record(Math.Max(0, sinceDispatch.TotalSeconds), new TagList { { "outcome", outcome } });

    /// <summary>Generation speed from the engine's own timing when it gave one, else the worker's wall time.</summary>
    public void Generated(int completionTokens, double? generationMs, int inferenceMs)
    {
        var ms = generationMs is > 0 ? generationMs.Value : inferenceMs;
        if (completionTokens > 0 && ms > 0)
        {
            _tokenRate.Record(completionTokens / (ms / 1000));
        }
    }

    public void Refused(string scope) => _refusals.Add(1, new TagList { { "scope", scope } });

    /// <summary>Counts a stream open until the returned handle is disposed.</summary>
    public OpenStream StreamOpened(string kind)
    {
        _openStreams.Add(1, new TagList { { "kind", kind } });
        return new OpenStream(this, kind);
    }

    /// <summary>Counts a database failure; anything that is not one is ignored, so callers need not sort.</summary>
    public void DatabaseFailed(Exception exception)
    {
        if (exception is DbException)
        {
            _databaseErrors.Add(1, new TagList { { "kind", DatabaseFailures.IsOutage(exception) ? "outage" : "error" } });
        }
    }

    /// <summary>The sampled gauges (a sampler reads the status every few seconds; a scrape reads the last sample).</summary>
    public void Sampled(int queueDepth, int workersOnline, IReadOnlyList<ModelSample>? models = null)
    {
        Interlocked.Exchange(ref _queueDepth, queueDepth);
        Interlocked.Exchange(ref _workersOnline, workersOnline);
        Volatile.Write(ref _models, models ?? []);
    }

    /// <summary>One model's line of the sampled status.</summary>
    public sealed record ModelSample(string Model, int Waiting, int Hosts, int? FreeSlots);

    private IEnumerable<Measurement<long>> PerModel(Func<ModelSample, int?> value)
    {
        foreach (var model in Volatile.Read(ref _models))
        {
            if (value(model) is { } v)
            {
                yield return new Measurement<long>(v, new KeyValuePair<string, object?>("model", model.Model));
            }
        }
    }

    private static IEnumerable<Measurement<long>> Observed(long value) =>
        value < 0 ? [] : [new Measurement<long>(value)];

    private static InstrumentAdvice<double> Seconds() => new() { HistogramBucketBoundaries = s_secondsBuckets };

    private static string SourceName(MessageSource source) => source switch
    {
        MessageSource.Model => "model",
        MessageSource.Fallback => "fallback",
        MessageSource.Notice => "notice",
        _ => "other",
    };

    /// <summary>An open stream; disposing it once counts it closed.</summary>
    public sealed class OpenStream(PlatformMetrics metrics, string kind) : IDisposable
    {
        private int _closed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                metrics._openStreams.Add(-1, new TagList { { "kind", kind } });
            }
        }
    }
}
