using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.ChatCompletions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace MeatLizard.Infrastructure.Inference.OpenAiCompatible;

/// <summary>
/// Answers from an OpenAI-compatible server the operator runs (Ollama, LM Studio, vLLM, llama-server …): streams
/// /v1/chat/completions with the request's sampling, under the upstream id of the model the request names. It starts
/// nothing and loads nothing; the server is ready when its /v1/models answers. At most Inference:Parallel answers
/// run at once (more wait here), and closing the stream (cancel, timeout) closes the connection, so the server can
/// stop generating. A send the server refuses for now, that cannot reach it, or that it leaves without a word for
/// <see cref="OpenAiCompatibleOptions.AttemptTimeout"/> is sent again (<see cref="OpenAiCompatibleOptions.Retries"/>),
/// within the request's time; repeated failures open a circuit breaker
/// (<see cref="OpenAiCompatibleOptions.BreakAfter"/>): while it is open no request goes to the server, each fails at
/// once as unavailable (the server asks another host), and the health the heartbeat carries says the engine is not
/// ready and why — until one request after <see cref="OpenAiCompatibleOptions.BreakFor"/> finds the server well again.
/// The breaker's opening and the break's end are told at once (<see cref="IEngineHealthChanges"/>): the host sends its
/// heartbeat then, not at its next interval, so the server stops and starts sending it questions without delay.
/// </summary>
public sealed partial class OpenAiCompatibleEngine : IInferenceEngine, IEngineHealthChanges, IEmbeddingEngine, IDisposable
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(5);
    private static readonly ResiliencePropertyKey<long> DeadlineKey = new("meatlizard.deadline");
    private static readonly ResiliencePropertyKey<Guid> RequestKey = new("meatlizard.request");

    private readonly OpenAiCompatibleOptions _upstream;
    private readonly LlamaCppOptions _options;
    private readonly ILogger<OpenAiCompatibleEngine> _logger;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _slots;
    private readonly ResiliencePipeline _retry;
    private readonly TimeProvider _time;
    // Until when the breaker keeps requests from the server (UTC ticks); 0 while it is closed.
    private long _brokenUntil;
    // Tells the host when an open breaker's break ends, so its heartbeat offers the models again for the try.
    private ITimer? _breakEnds;
    private readonly IReadOnlyList<string> _modelNames;
    // Names the server in failures, e.g. "OpenAI-compatible server at http://127.0.0.1:11434".
    private readonly string _server;

    public OpenAiCompatibleEngine(
        OpenAiCompatibleOptions upstream, LlamaCppOptions options, ILogger<OpenAiCompatibleEngine> logger,
        TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        ArgumentNullException.ThrowIfNull(options);
        _upstream = upstream;
        _options = options;
        _logger = logger;
        _slots = new SemaphoreSlim(options.Parallel, options.Parallel);
        _time = time ?? TimeProvider.System;
        _retry = Pipeline(upstream, logger);
        _modelNames = upstream.Models.Select(m => m.Name).ToList();
        _server = $"OpenAI-compatible server at {upstream.BaseUrl.GetLeftPart(UriPartial.Authority)}";
        _http = new HttpClient(new SocketsHttpHandler
        {
            // A server on this machine is reached directly, whatever proxy the environment names.
            UseProxy = !upstream.BaseUrl.IsLoopback,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // A stream left unread (cancel, timeout) closes its connection at once rather than being read to its end
            // for reuse: the closed connection is what tells the server to stop generating.
            MaxResponseDrainSize = 0,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
    }

    public string Name => "OpenAiCompatible";

    public event Action? HealthChanged;

    public async Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken)
    {
        if (BrokenUntil is { } until)
        {
            // Not asked: the breaker is open, and the host must say so, so that its models' questions go elsewhere.
            return Health(false, $"The {_server} failed half or more of at least {_upstream.BreakAfter} sends within " +
                                 $"{OpenAiCompatibleOptions.BreakWindow.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; " +
                                 $"no request goes to it until {until.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} UTC (circuit breaker open).");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HealthTimeout);
        try
        {
            using var request = Authorized(new HttpRequestMessage(HttpMethod.Get, new Uri(_upstream.BaseUrl, "models")));
            using var response = await _http.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                return Health(true, null);
            }

            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            return Health(false,
                Redacted($"{_server} answered {(int)response.StatusCode}: {ChatCompletionsStream.ErrorMessage(body)}"));
        }
        catch (HttpRequestException ex)
        {
            return Health(false, Unreachable(ex).Message);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Health(false, $"The {_server} did not answer within {HealthTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
    }

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var model = ModelFor(request.Model);
        var timeLimit = TimeSpan.FromSeconds(_options.TimeoutSeconds);
        var deadline = Stopwatch.GetTimestamp() + (long)(timeLimit.TotalSeconds * Stopwatch.Frequency);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(timeLimit);
        try
        {
            await _slots.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut();
        }

        using var slot = new SlotLease(_slots);

        // The server's tokenizer is not ours to ask: the history is cut by a cautious estimate.
        var prompt = ChatPrompt.Fit(request, _options);
        var body = RequestBody(request, prompt, model);
        var (stream, update) = await ReadAsync(
            () => OpenAsync(body, request.RequestId, deadline, timeout.Token), request.RequestId, timeout, cancellationToken,
            opening: true);
        await using (stream)
        {
            while (update is not null)
            {
                if (update is InferenceCompleted completed)
                {
                    LogCompleted(_logger, request.RequestId, model.Name, completed.PromptTokens,
                        completed.CompletionTokens, completed.FinishReason, prompt.DroppedTurns);
                }

                yield return update;
                update = await ReadAsync(stream.NextAsync, request.RequestId, timeout, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Sends the request and reads up to its first update, again (<see cref="OpenAiCompatibleOptions.Retries"/>) while
    /// the server refuses it for now, cannot be reached or says nothing within
    /// <see cref="OpenAiCompatibleOptions.AttemptTimeout"/> — nothing was answered yet, so nothing is said twice.
    /// </summary>
    private async Task<(UpstreamAttempt Stream, InferenceUpdate? First)> OpenAsync(
        string body, Guid requestId, long deadline, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(DeadlineKey, deadline);
        context.Properties.Set(RequestKey, requestId);
        try
        {
            return await _retry.ExecuteAsync(async attempt =>
            {
                var stream = new UpstreamAttempt((token, began) => new ChatCompletionsStream(_http, () => Authorized(
                    new HttpRequestMessage(HttpMethod.Post, new Uri(_upstream.BaseUrl, "chat/completions"))
                    {
                        Content = new StringContent(body, Encoding.UTF8, "application/json"),
                    }), _server, token) { Began = began }, _server, _upstream.AttemptTimeout, attempt.CancellationToken);
                try
                {
                    return (stream, await stream.FirstAsync(attempt.CancellationToken));
                }
                catch
                {
                    await stream.DisposeAsync();
                    throw;
                }
            }, context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>
    /// One step of the answer, its failures told in words a user may read; when <paramref name="opening"/> (nothing was
    /// answered yet), a server out of reach or refusing for now is <see cref="InferenceFailedException.Unavailable"/>.
    /// </summary>
    private async Task<T> ReadAsync<T>(Func<Task<T>> step, Guid requestId, CancellationTokenSource timeout,
        CancellationToken cancellationToken, bool opening = false)
    {
        try
        {
            return await step();
        }
        catch (BrokenCircuitException ex)
        {
            LogFailed(_logger, requestId, "circuit breaker open");
            throw new InferenceFailedException(
                $"The {_server} is failing; this host sends it nothing for a while (circuit breaker open).", ex) { Unavailable = true };
        }
        catch (Exception ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested
                                   && ex is OperationCanceledException or HttpRequestException or IOException)
        {
            // Whatever the cancelled call threw (a cancelled connect or read may surface as a broken connection),
            // it ended because the timeout did.
            throw TimedOut();
        }
        catch (HttpRequestException ex) when (IsUnreachable(ex))
        {
            LogFailed(_logger, requestId, "unreachable");
            throw new InferenceFailedException(Unreachable(ex).Message, ex) { Unavailable = opening };
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            LogFailed(_logger, requestId, "connection broken");
            throw new InferenceFailedException($"The connection to the {_server} broke while it was answering.", ex);
        }
        catch (InferenceFailedException ex)
        {
            LogFailed(_logger, requestId, ex is UpstreamSilentException ? "no answer begun" : "server error");
            throw new InferenceFailedException(Redacted(ex.Message), ex.InnerException)
            {
                Unavailable = opening && ex is UpstreamAnsweredException { IsPassing: true } or UpstreamSilentException,
            };
        }
    }

    /// <summary>
    /// What is sent again: a refusal for now (429, 408, 5xx), a connection that could not be made or was reset
    /// before anything was answered, or a send left without a word for its attempt's time — unless the server's <c>Retry-After</c> reaches past the request's deadline, or
    /// the breaker is open. Inside the retries, the breaker counts every send.
    /// </summary>
    private ResiliencePipeline Pipeline(OpenAiCompatibleOptions upstream, ILogger logger)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = _time };
        if (upstream.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = upstream.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(500),
                MaxDelay = TimeSpan.FromSeconds(10),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception switch
                {
                    UpstreamAnsweredException { IsPassing: true } refused =>
                        refused.RetryAfter is not { } after || after < Remaining(args.Context),
                    UpstreamSilentException => true,
                    HttpRequestException sent => IsPassing(sent),
                    _ => false,
                }),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is UpstreamAnsweredException { RetryAfter: { } after } ? after : (TimeSpan?)null),
                OnRetry = args =>
                {
                    LogRetry(logger, args.Context.Properties.GetValue(RequestKey, Guid.Empty),
                        args.Outcome.Exception switch
                        {
                            UpstreamAnsweredException refused => ((int)refused.Status).ToString(CultureInfo.InvariantCulture),
                            UpstreamSilentException silent =>
                                $"nothing within {silent.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s",
                            _ => "no connection",
                        },
                        (long)args.RetryDelay.TotalMilliseconds, args.AttemptNumber + 1);
                    return ValueTask.CompletedTask;
                },
            });
        }

        if (upstream.BreakAfter > 0)
        {
            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = Math.Max(2, upstream.BreakAfter),
                SamplingDuration = OpenAiCompatibleOptions.BreakWindow,
                BreakDuration = upstream.BreakFor,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception switch
                {
                    UpstreamAnsweredException { IsPassing: true } or UpstreamSilentException => true,
                    HttpRequestException sent => IsPassing(sent),
                    _ => false,
                }),
                OnOpened = args =>
                {
                    Volatile.Write(ref _brokenUntil, (_time.GetUtcNow() + args.BreakDuration).UtcTicks);
                    LogBreakerOpened(logger, (long)args.BreakDuration.TotalSeconds);
                    var ends = _time.CreateTimer(_ => OnBreakEnded(), null, args.BreakDuration, Timeout.InfiniteTimeSpan);
                    Interlocked.Exchange(ref _breakEnds, ends)?.Dispose();
                    HealthChanged?.Invoke();
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    Volatile.Write(ref _brokenUntil, 0);
                    Interlocked.Exchange(ref _breakEnds, null)?.Dispose();
                    LogBreakerClosed(logger);
                    return ValueTask.CompletedTask;
                },
            });
        }

        return builder.Build();
    }

    /// <summary>Tells the host the break is over — once the clock says so: a timer may fire a moment early.</summary>
    private void OnBreakEnded()
    {
        if (BrokenUntil is { } until)
        {
            Volatile.Read(ref _breakEnds)?.Change(until - _time.GetUtcNow() + TimeSpan.FromMilliseconds(10),
                Timeout.InfiniteTimeSpan);
            return;
        }

        HealthChanged?.Invoke();
    }

    /// <summary>Until when the open breaker keeps requests from the server; null while it is closed or may be tried.</summary>
    private DateTimeOffset? BrokenUntil =>
        Volatile.Read(ref _brokenUntil) is var ticks and > 0 && ticks > _time.GetUtcNow().UtcTicks
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : null;

    private static bool IsPassing(HttpRequestException sent) =>
        IsUnreachable(sent) || sent.HttpRequestError == HttpRequestError.ResponseEnded;

    private static TimeSpan Remaining(ResilienceContext context) =>
        Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), context.Properties.GetValue(DeadlineKey, 0L));

    public void Dispose()
    {
        Interlocked.Exchange(ref _breakEnds, null)?.Dispose();
        _http.Dispose();
        _slots.Dispose();
    }

    /// <summary>
    /// The model a request names; one that names none gets the first configured (the host's default). The server
    /// sends a host only requests for models it listed, so another name is a mistake worth saying plainly.
    /// </summary>
    private OpenAiCompatibleModel ModelFor(string? name) =>
        name is null
            ? _upstream.Models[0]
            : _upstream.Models.FirstOrDefault(m => m.Name == name)
              ?? throw new InferenceFailedException(
                  $"This model host does not serve the model '{name}'; it serves {string.Join(", ", _modelNames)}.");

    private string RequestBody(InferenceRequest request, ChatPrompt prompt, OpenAiCompatibleModel model)
    {
        var body = ChatCompletionsBody.Create(request, prompt, _options);
        body["model"] = model.Upstream;
        if (request.Extras?.ResponseFormat is { } format)
        {
            // As asked: the API checked it is a JSON object; the server enforces it its own way.
            body["response_format"] = JsonNode.Parse(format);
        }

        return body.ToJsonString();
    }

    // OpenAI's API takes tools with every chat model; a model of the upstream's that cannot refuses them itself.
    private EngineHealth Health(bool ready, string? detail) =>
        new(ready, detail, Slots: _options.Parallel, Models: _modelNames)
        {
            TakesTools = true,
            Embeddings = [.. _upstream.Models.Where(m => m.Embeddings).Select(m => new EmbeddingModel(m.Name, null, m.Dimensions))],
            Vision = [.. _upstream.Models.Where(m => m.Vision).Select(m => m.Name)],
        };

    /// <summary>
    /// The vectors from the upstream's <c>/v1/embeddings</c>, for a model configured to make them, within
    /// Inference:TimeoutSeconds and one of the engine's slots. Sent once: a server refusing for now or out of reach is
    /// <see cref="InferenceFailedException.Unavailable"/>, and the relay asks another host.
    /// </summary>
    public async Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var model = ModelFor(request.Model);
        if (!model.Embeddings)
        {
            throw new InferenceFailedException($"The model '{model.Name}' is not configured to make embeddings here.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        await _slots.WaitAsync(timeout.Token);
        using var slot = new SlotLease(_slots);
        try
        {
            return await EmbeddingsCall.PostAsync(_http,
                () => Authorized(new HttpRequestMessage(HttpMethod.Post, new Uri(_upstream.BaseUrl, "embeddings"))), _server,
                model.Upstream, model.Dimensions ? request : request with { Dimensions = null }, timeout.Token);
        }
        catch (InferenceFailedException ex)
        {
            throw new InferenceFailedException(Redacted(ex.Message), ex.InnerException)
            {
                Unavailable = ex.Unavailable,
                InputRefused = ex.InputRefused,
            };
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut();
        }
    }

    private HttpRequestMessage Authorized(HttpRequestMessage request)
    {
        if (_upstream.ApiKey is { } key)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return request;
    }

    /// <summary>The server's words with the API key blanked out: some servers quote the key they refused.</summary>
    private string Redacted(string message) =>
        _upstream.ApiKey is { Length: >= 4 } key ? message.Replace(key, "***", StringComparison.Ordinal) : message;

    private static bool IsUnreachable(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError
        || ex.InnerException is SocketException;

    private InferenceFailedException Unreachable(HttpRequestException ex)
    {
        var reason = ex.InnerException is SocketException socket ? socket.Message : ex.Message;
        return new InferenceFailedException($"The {_server} is not reachable ({reason.TrimEnd('.')}).", ex);
    }

    private InferenceFailedException TimedOut() => new(
        $"The {_server} did not finish within Inference:TimeoutSeconds ({_options.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s).");

    /// <summary>Gives a slot back when the answer is done, however it ends.</summary>
    private sealed class SlotLease(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId}: the OpenAI-compatible server failed ({Reason})")]
    private static partial void LogFailed(ILogger logger, Guid requestId, string reason);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Request {RequestId}: the OpenAI-compatible server refused it for now ({Reason}); sending it again in {DelayMs} ms (attempt {Attempt})")]
    private static partial void LogRetry(ILogger logger, Guid requestId, string reason, long delayMs, int attempt);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The OpenAI-compatible server failed too often: its circuit breaker is open for {Seconds} s, and this host says it is unavailable")]
    private static partial void LogBreakerOpened(ILogger logger, long seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "The OpenAI-compatible server answered again: its circuit breaker is closed")]
    private static partial void LogBreakerClosed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId}: model {Model}, {PromptTokens} prompt tokens, {CompletionTokens} generated, finished by {FinishReason} ({DroppedTurns} old turns dropped)")]
    private static partial void LogCompleted(ILogger logger, Guid requestId, string model, int promptTokens,
        int completionTokens, string finishReason, int droppedTurns);
}
