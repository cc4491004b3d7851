using System.Diagnostics;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Inference;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Inference.ChatCompletions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// The managed-server engine: keeps one llama-server child on 127.0.0.1 (a free port), so the model stays loaded and
/// the prompt cache carries over between turns; streams answers from its OpenAI-style chat endpoint (the server applies
/// the model's chat template). When the child dies it is started again with a growing delay; stopping the host stops
/// it. Requests beyond Inference:Parallel slots wait in llama-server's queue.
/// </summary>
public sealed partial class LlamaServerEngine(
    LlamaCppOptions options,
    LlamaCppInstallation installation,
    ILogger<LlamaServerEngine> logger)
    : IInferenceEngine, IEmbeddingEngine, IEngineHealthChanges, IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan HealthPollInterval = TimeSpan.FromMilliseconds(100);

    private const int MaxTokenCountsKept = 4096;

    // Token counts of texts seen (by SHA-256 of the text, so no chat text is kept): the same for every llama-server
    // child, since they all load the same model.
    private readonly ConcurrentDictionary<string, int> _tokenCounts = new(StringComparer.Ordinal);

    // llama-server closes a keep-alive connection after 5 s idle; dropping ours sooner avoids sending on one it closes.
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
    })
    { Timeout = Timeout.InfiniteTimeSpan };
    private readonly CancellationTokenSource _stopping = new();

    // Requests beyond the slots wait here rather than in llama-server: its HTTP thread pool is small (slots + 2) and
    // it drops connections it has no thread for.
    private readonly SemaphoreSlim _slots = new(options.Parallel, options.Parallel);

    // The newest run a request saw die under it: a request that takes a slot afterwards waits for a later run, not the
    // address of one the guard has not found dead yet (sent there, it would meet the same death, and be handed back for
    // a question it never reached).
    private int _lostRun;
    private readonly Lock _gate = new();
    private TaskCompletionSource<Run> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Run? _current;
    private volatile bool _restarting;
    private Task? _supervisor;
    private LlamaProcess? _process;
    private string? _lastError;
    private int _starts;
    private int _disposed;

    public string Name => "LlamaServer";

    /// <summary>Raised when llama-server became ready, stopped, or could not be started.</summary>
    public event Action? HealthChanged;

    /// <summary>The context (tokens) its llama-server runs with, shared by its slots.</summary>
    public int ContextSize => options.ContextSize;

    /// <summary>How many times llama-server was started (1 + restarts).</summary>
    public int Starts => Volatile.Read(ref _starts);

    /// <summary>The guard process of the current llama-server (its only child is llama-server), if one runs.</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    /// <summary>How many prompt tokens the last finished answer took from llama-server's prompt cache.</summary>
    public int LastCachedPromptTokens { get; private set; }

    /// <summary>The server's address once it is ready (for tests and the benchmark's direct calls).</summary>
    public Uri? BaseAddress => _current?.BaseAddress;

    /// <summary>
    /// The API key the running llama-server demands (new at every start), for direct calls beside the engine's own.
    /// Without it llama-server refuses every request but its health check, so no other local process (nor a web page
    /// in the machine's browser) can use the model through its loopback port.
    /// </summary>
    public string ApiKey => _current?.ApiKey ?? "";

    /// <summary>Starts the supervisor; the model loads in the background so the host starts at once.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _supervisor ??= Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_process is { } process)
        {
            await process.StopAsync();
        }

        if (_supervisor is { } supervisor)
        {
            await supervisor.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Waits until llama-server is ready, or throws <see cref="InferenceFailedException"/> after the startup timeout.</summary>
    public async Task<Uri> WaitUntilReadyAsync(CancellationToken cancellationToken) =>
        (await ReadyRunAsync(after: 0, cancellationToken)).BaseAddress;

    /// <summary>
    /// The running llama-server once it is ready, started after run number <paramref name="after"/> (0: any): a request
    /// that found run n gone waits for run n + 1 rather than take n's address again before the guard has noticed.
    /// Throws <see cref="InferenceFailedException"/> after the startup timeout.
    /// </summary>
    private async Task<Run> ReadyRunAsync(int after, CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken);
        var deadline = Stopwatch.GetTimestamp() + (long)(options.StartupTimeoutSeconds * (double)Stopwatch.Frequency);
        while (true)
        {
            var ready = _ready.Task;
            var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            try
            {
                var run = await ready.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken);
                if (run.Number > after)
                {
                    return run;
                }
            }
            catch (TimeoutException)
            {
                throw new InferenceFailedException(
                    $"llama-server did not become ready within Inference:StartupTimeoutSeconds ({options.StartupTimeoutSeconds} s){Suffix(_lastError)}");
            }

            // Run `after` is still the one published: its exit has not been seen yet. It is about to be.
            await Task.Delay(HealthPollInterval, cancellationToken);
        }
    }

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken)
    {
        // Loading from the start until llama-server is healthy, as long as nothing fails on the way: requests may wait
        // for it. Not after a failure (a child that exited, or could not start) until one is healthy again.
        // Restarting after a run that was ready died under it, until the next run is ready or fails to start.
        var lastError = _lastError;
        var running = _supervisor is not null && !_stopping.IsCancellationRequested;
        var health = _ready.Task.IsCompletedSuccessfully
            ? new EngineHealth(true, null, Slots: options.Parallel)
            {
                TakesTools = _current?.TakesTools == true,
                // Its one model, whatever the host names it (an empty name: the host's model).
                Embeddings = options.Embeddings ? [new EmbeddingModel("", _current?.EmbeddingWidth)] : null,
                // With a projector (--mmproj) llama-server reads image_url content parts.
                Vision = options.Mmproj is not null && !options.Embeddings ? [""] : null,
            }
            : running && _restarting
                ? new EngineHealth(false, $"llama-server stopped and is starting again{Suffix(lastError)}",
                    Slots: options.Parallel) { Restarting = true }
            : lastError is null && running
                ? new EngineHealth(false, "llama-server is loading the model", Loading: true, Slots: options.Parallel)
                : new EngineHealth(false, lastError ?? "llama-server is not started", Slots: options.Parallel);
        return Task.FromResult(health);
    }

    /// <summary>
    /// The vectors of the inputs from llama-server's <c>/v1/embeddings</c>, for a model started with
    /// <see cref="LlamaCppOptions.Embeddings"/>; it spreads an array of inputs over its slots itself. The call takes one
    /// of the engine's slots, as an answer does.
    /// </summary>
    public async Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!options.Embeddings)
        {
            throw new InferenceFailedException("This model is not run for embeddings (Inference:Embeddings is false).");
        }

        await _slots.WaitAsync(cancellationToken);
        try
        {
            var run = await ReadyRunAsync(after: 0, cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
            return await ChatCompletions.EmbeddingsCall.PostAsync(_http,
                () => Authorized(run, new HttpRequestMessage(HttpMethod.Post, new Uri(run.BaseAddress, "v1/embeddings"))),
                "llama-server", null, request with { Dimensions = null }, timeout.Token);
        }
        finally
        {
            _slots.Release();
        }
    }

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        try
        {
            await _slots.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut();
        }

        using var slot = new SlotLease(_slots);

        // The run is taken once the slot is: a request that waited for one must not use the address of a llama-server
        // that died meanwhile.
        Run run;
        ChatPrompt prompt;
        // An answer an earlier attempt had started: llama-server prefills a last assistant message and writes on from it
        // (--prefill-assistant, its default), so the start goes in the prompt as that message.
        var start = request.StartToContinue;
        var continuing = start is null ? request : request with { Turns = [.. request.Turns, new ChatTurn(MessageRole.Assistant, start)] };
        try
        {
            run = await ReadyRunAsync(after: Volatile.Read(ref _lostRun), timeout.Token);
            // Counted inside the slot: llama-server has few HTTP threads, and requests beyond the slots wait here.
            var counting = run;
            prompt = await ChatPrompt.FitAsync(continuing, options,
                (text, ct) => CountTokensAsync(counting, text, ct), timeout.Token);
            if (start is not null)
            {
                // The answer's token budget holds what was written of it before: the rest may take only what is left.
                var written = await CountTokensAsync(counting, start, timeout.Token);
                prompt = prompt with { MaxTokens = Math.Max(1, prompt.MaxTokens - written) };
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut();
        }

        if (start is not null)
        {
            // The answer so far is this one's first piece (none of the engine's tokens); llama-server's copy of it in
            // front of what it writes is taken out (EchoedStart).
            yield return new InferenceDelta(start, 0);
        }

        var body = RequestBody(request, prompt);
        var askedAgain = false;
        while (true)
        {
            var asked = run;
            var stream = new ChatCompletionsStream(_http, () => Authorized(asked,
                new HttpRequestMessage(HttpMethod.Post, new Uri(asked.BaseAddress, "v1/chat/completions"))
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                }), "llama-server", timeout.Token);
            var answered = false;
            var echo = start is null ? null : new EchoedStart(start);
            var unreached = false;
            var sameRunAgain = false;
            await using (stream)
            {
                while (true)
                {
                    InferenceUpdate? update;
                    try
                    {
                        update = await stream.NextAsync();
                    }
                    catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    {
                        throw TimedOut();
                    }
                    catch (HttpRequestException ex) when (!answered && ex.HttpRequestError == HttpRequestError.ConnectionError)
                    {
                        // No connection: the llama-server it was meant for had died before the question reached it.
                        // Not this question's doing, so it is not handed back: it waits for the next run, here.
                        unreached = true;
                        break;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or IOException)
                    {
                        if (await HasEndedAsync(asked))
                        {
                            // Died while it had the question: the guard starts llama-server again, and the question is
                            // handed back to be asked once more (a question that kills it every time ends in a notice).
                            NoteLost(asked);
                            throw new InferenceFailedException($"llama-server stopped while answering{Suffix(_lastError)}", ex)
                            {
                                EngineLost = true,
                            };
                        }

                        // Only this connection broke; llama-server lives and answers the next question. (Before, any
                        // broken connection was taken for its death, and every later question waited for a next run
                        // that never came: the soak's host that took work and answered none.) Not answered yet: asked
                        // again here, once. Mid-answer: handed back, to be asked again from the start.
                        LogConnectionBroke(logger, request.RequestId, answered);
                        if (!answered && !askedAgain)
                        {
                            askedAgain = sameRunAgain = true;
                            break;
                        }

                        throw new InferenceFailedException("The connection to llama-server broke mid-answer; it is asked again.", ex)
                        {
                            EngineLost = true,
                        };
                    }

                    if (update is null)
                    {
                        break;
                    }

                    answered = true;
                    if (update is InferenceCompleted completed)
                    {
                        LastCachedPromptTokens = stream.CachedTokens;
                        LogCompleted(logger, request.RequestId, completed.PromptTokens, stream.CachedTokens,
                            completed.CompletionTokens, stream.PromptMilliseconds, stream.PredictedMilliseconds,
                            prompt.DroppedTurns);
                    }

                    if (echo is not null)
                    {
                        if (update is InferenceDelta delta)
                        {
                            if (echo.Pass(delta) is not { } own)
                            {
                                continue;
                            }

                            update = own;
                        }
                        else if (echo.Rest() is { } rest)
                        {
                            yield return rest;
                        }
                    }

                    yield return update;
                }
            }

            if (sameRunAgain)
            {
                continue;
            }

            if (!unreached)
            {
                yield break;
            }

            LogWaitingForNextRun(logger, request.RequestId, asked.Number);
            try
            {
                run = await ReadyRunAsync(after: asked.Number, timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw TimedOut();
            }
        }
    }

    /// <summary>Stops llama-server; safe to call more than once (the container disposes it once per registration).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await StopAsync(CancellationToken.None);
        _stopping.Dispose();
        _slots.Dispose();
        _http.Dispose();
    }

    /// <summary>
    /// How many tokens the model makes of <paramref name="text"/> (llama-server's /tokenize), remembered by the text's
    /// hash: a conversation's earlier turns come again with every new one. Estimated if llama-server cannot say.
    /// </summary>
    private async ValueTask<int> CountTokensAsync(Run run, string text, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        if (_tokenCounts.TryGetValue(key, out var known))
        {
            return known;
        }

        int count;
        try
        {
            using var tokenize = Authorized(run, new HttpRequestMessage(HttpMethod.Post, new Uri(run.BaseAddress, "tokenize"))
            {
                Content = new StringContent(new JsonObject { ["content"] = text }.ToJsonString(), Encoding.UTF8,
                    "application/json"),
            });
            using var response = await _http.SendAsync(tokenize, cancellationToken);
            response.EnsureSuccessStatusCode();
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
            count = document.RootElement.GetProperty("tokens").GetArrayLength();
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or KeyNotFoundException
                                       or InvalidOperationException)
        {
            // The answer request that follows will say what is wrong with llama-server; the estimate does till then.
            LogTokenizeFailed(logger, ex.GetType().Name);
            return ChatPrompt.EstimateTokens(text);
        }

        if (_tokenCounts.Count >= MaxTokenCountsKept)
        {
            _tokenCounts.Clear();
        }

        _tokenCounts[key] = count;
        return count;
    }

    private InferenceFailedException TimedOut() => new(
        $"llama-server did not finish within Inference:TimeoutSeconds ({options.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s).");

    private string RequestBody(InferenceRequest request, ChatPrompt prompt)
    {
        var body = ChatCompletionsBody.Create(request, prompt, options);
        body["cache_prompt"] = true;
        if (request.Extras?.ResponseFormat is { } format && JsonSchemaGrammar.ForResponseFormat(format) is { } grammar)
        {
            // Our own grammar, not llama-server's response_format: see JsonSchemaGrammar.
            body["grammar"] = grammar;
        }

        return body.ToJsonString();
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!stopping.IsCancellationRequested)
        {
            var port = FreeLoopbackPort();
            var baseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
            // A new key for every start, in the environment (LLAMA_API_KEY is --api-key): the command line is visible
            // to every local user, a process's environment only to its own.
            var apiKey = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
            LlamaProcess process;
            try
            {
                process = LlamaProcess.Start(installation.ServerPath, ServerArguments(port),
                    environment: new Dictionary<string, string> { ["LLAMA_API_KEY"] = apiKey });
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                _lastError = $"could not start {installation.ServerPath}: {ex.Message}";
                _restarting = false;
                HealthChanged?.Invoke();
                LogStartFailed(logger, ex.GetType().Name);
                await DelayAsync(delay, stopping);
                delay = NextDelay(delay);
                continue;
            }

            _process = process;
            var number = Interlocked.Increment(ref _starts);
            var started = DateTime.UtcNow;
            LogStarting(logger, process.Id, port, Path.GetFileName(installation.ModelPath));
            var ready = await WaitForHealthAsync(process, baseAddress, stopping);
            Run? readyRun = null;
            if (ready)
            {
                _lastError = null;
                LogReady(logger, port, (int)(DateTime.UtcNow - started).TotalMilliseconds);
                readyRun = new Run(baseAddress, apiKey, number);
                readyRun = readyRun with
                {
                    TakesTools = !options.Embeddings && await TakesToolsAsync(readyRun, stopping),
                    EmbeddingWidth = options.Embeddings ? await EmbeddingWidthAsync(readyRun, stopping) : null,
                };
                _current = readyRun;
            }

            // Restarting only after a run that was ready: one that never got there failed, and the host says so. The
            // health is whole and told before anyone waiting for the run goes on, so none of them sees the last one's.
            _restarting = ready;
            HealthChanged?.Invoke();
            if (readyRun is not null)
            {
                _ready.TrySetResult(readyRun);
            }

            var hung = readyRun is not null && await WatchUntilExitAsync(process, readyRun, stopping);
            await ((Task)process.Exited.WaitAsync(stopping)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            lock (_gate)
            {
                _current = null;
                if (_ready.Task.IsCompleted)
                {
                    _ready = new TaskCompletionSource<Run>(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            if (stopping.IsCancellationRequested)
            {
                await process.DisposeAsync();
                _process = null;
                break;
            }

            var code = process.Exited.IsCompletedSuccessfully ? await process.Exited : -1;
            if (!hung)
            {
                _lastError = $"llama-server exited with code {code.ToString(CultureInfo.InvariantCulture)}{Suffix(process.DescribeFailure())}";
            }

            HealthChanged?.Invoke();
            await process.DisposeAsync();
            _process = null;
            if (DateTime.UtcNow - started > TimeSpan.FromMinutes(1))
            {
                delay = TimeSpan.FromSeconds(1);
            }

            LogRestarting(logger, code, (int)delay.TotalMilliseconds);
            await DelayAsync(delay, stopping);
            delay = NextDelay(delay);
        }
    }

    /// <summary>
    /// Waits for a ready run to end, asking it every few seconds meanwhile for its slots — a question its task loop
    /// answers, the one that generates, where <c>/health</c> is answered by the HTTP threads alone: a llama-server told
    /// to stop (SIGTERM from outside) has been seen to answer its health check for a minute with its task loop gone and
    /// its answers silent. One it leaves unanswered for <see cref="LlamaCppOptions.HangTimeoutSeconds"/> is hung
    /// (frozen, deadlocked, stopping, out of HTTP threads): it is stopped, so the requests it held fail as lost and are
    /// handed back, and the supervisor starts the next run; true then. Any answer counts, whatever its status: a busy
    /// llama-server answers between two steps of its generation (and one run with <c>--no-slots</c> answers 501).
    /// </summary>
    private async Task<bool> WatchUntilExitAsync(LlamaProcess process, Run run, CancellationToken stopping)
    {
        var hangAfter = TimeSpan.FromSeconds(options.HangTimeoutSeconds);
        var every = TimeSpan.FromSeconds(Math.Clamp(options.HangTimeoutSeconds / 4.0, 0.25, 5));
        var answered = Stopwatch.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            await Task.WhenAny(process.Exited, Task.Delay(every, stopping));
            if (process.HasExited || stopping.IsCancellationRequested)
            {
                return false;
            }

            var left = hangAfter - Stopwatch.GetElapsedTime(answered);
            using (var probe = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                probe.CancelAfter(left > every ? left : every);
                try
                {
                    using var ask = Authorized(run, new HttpRequestMessage(HttpMethod.Get, new Uri(run.BaseAddress, "slots")));
                    using var response = await _http.SendAsync(ask, HttpCompletionOption.ResponseHeadersRead, probe.Token);
                    answered = Stopwatch.GetTimestamp();
                    continue;
                }
                catch (Exception ex) when (ex is HttpRequestException
                                               || (ex is OperationCanceledException && !stopping.IsCancellationRequested))
                {
                    // Unanswered: refused by a run that is going away (its exit ends the wait), or not answered in time.
                }
            }

            if (Stopwatch.GetElapsedTime(answered) >= hangAfter && !process.HasExited)
            {
                LogHung(logger, process.Id, options.HangTimeoutSeconds);
                // Said before the run is given up, so the health that tells of the restart says why.
                _lastError = $"llama-server left its health check unanswered for Inference:HangTimeoutSeconds ({options.HangTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s) and was stopped";
                await process.StopAsync();
                return true;
            }
        }

        return false;
    }

    private TimeSpan NextDelay(TimeSpan delay) =>
        TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, options.MaxRestartDelaySeconds));

    private async Task<bool> WaitForHealthAsync(LlamaProcess process, Uri baseAddress, CancellationToken stopping)
    {
        var deadline = DateTime.UtcNow.AddSeconds(options.StartupTimeoutSeconds);
        while (!process.HasExited && !stopping.IsCancellationRequested && DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await _http.GetAsync(new Uri(baseAddress, "health"), stopping);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return false;
            }

            await DelayAsync(HealthPollInterval, stopping);
        }

        if (!process.HasExited && !stopping.IsCancellationRequested)
        {
            _lastError = $"llama-server did not become ready within Inference:StartupTimeoutSeconds ({options.StartupTimeoutSeconds} s)";
            await process.StopAsync();
        }

        return false;
    }

    /// <summary>
    /// Whether the run's model writes tool calls: llama-server's <c>/props</c> says what the model's chat template can
    /// do (<c>chat_template_caps.supports_tool_calls</c>). A template without it makes llama-server ignore the tools, so
    /// the host must not say it takes them. Not known (an older llama-server, no answer): not taken.
    /// </summary>
    private async Task<bool> TakesToolsAsync(Run run, CancellationToken stopping) =>
        await AskAsync(run, "props", props => props.TryGetProperty("chat_template_caps", out var caps)
                                              && caps.ValueKind == JsonValueKind.Object
                                              && caps.TryGetProperty("supports_tool_calls", out var calls)
                                              && calls.ValueKind == JsonValueKind.True, stopping);

    /// <summary>
    /// The vector length of the run's model: llama-server's <c>/v1/models</c> gives its <c>meta.n_embd</c>. Not known (an
    /// older llama-server, no answer): null.
    /// </summary>
    private Task<int?> EmbeddingWidthAsync(Run run, CancellationToken stopping) =>
        AskAsync(run, "v1/models", models =>
            models.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array
            && data.GetArrayLength() > 0 && data[0].TryGetProperty("meta", out var meta)
            && meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("n_embd", out var width)
            && width.TryGetInt32(out var n) && n > 0
                ? n
                : (int?)null, stopping);

    /// <summary>
    /// What <paramref name="read"/> takes from the JSON the run answers at <paramref name="path"/> within 5 s; the
    /// default when it does not answer, or not with JSON.
    /// </summary>
    private async Task<T?> AskAsync<T>(Run run, string path, Func<JsonElement, T> read, CancellationToken stopping)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var ask = Authorized(run, new HttpRequestMessage(HttpMethod.Get, new Uri(run.BaseAddress, path)));
            using var response = await _http.SendAsync(ask, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return default;
            }

            using var answer = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token),
                cancellationToken: timeout.Token);
            return read(answer.RootElement);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException
                                       || (ex is OperationCanceledException && !stopping.IsCancellationRequested))
        {
            return default;
        }
    }

    private static HttpRequestMessage Authorized(Run run, HttpRequestMessage request)
    {
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", run.ApiKey);
        return request;
    }

    /// <summary>
    /// One llama-server run that became ready: where it listens, the key it demands, its number (1, 2, …), and whether its
    /// model writes tool calls.
    /// </summary>
    private sealed record Run(Uri BaseAddress, string ApiKey, int Number)
    {
        public bool TakesTools { get; init; }

        /// <summary>The vector length of an embedding model (null: not one, or not known).</summary>
        public int? EmbeddingWidth { get; init; }
    }

    /// <summary>How long a broken connection waits to see whether its llama-server exited with it.</summary>
    private static readonly TimeSpan ExitSeenWithin = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Whether <paramref name="run"/> ended: a connection to it broke, which its death does — and so does a connection
    /// closed under one request while llama-server lives. Its exit is seen within moments of the break, or it lives.
    /// </summary>
    private async Task<bool> HasEndedAsync(Run run)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(ExitSeenWithin.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (_current != run || _process is not { } process || process.HasExited || _stopping.IsCancellationRequested)
            {
                return true;
            }

            if (Stopwatch.GetTimestamp() >= deadline)
            {
                return false;
            }

            await Task.WhenAny(process.Exited, Task.Delay(HealthPollInterval));
        }
    }

    private void NoteLost(Run run)
    {
        var seen = Volatile.Read(ref _lostRun);
        while (seen < run.Number && Interlocked.CompareExchange(ref _lostRun, run.Number, seen) is var before && before != seen)
        {
            seen = before;
        }
    }

    private List<string> ServerArguments(int port)
    {
        var arguments = new List<string>
        {
            "--model", installation.ModelPath,
            "--host", "127.0.0.1",
            "--port", port.ToString(CultureInfo.InvariantCulture),
            // Every slot gets the full context window.
            "--ctx-size", (options.ContextSize * options.Parallel).ToString(CultureInfo.InvariantCulture),
            "--parallel", options.Parallel.ToString(CultureInfo.InvariantCulture),
            "--n-gpu-layers", options.GpuLayers.ToString(CultureInfo.InvariantCulture),
            // The model's own chat template, run as Jinja: what lets llama-server take tools and write tool calls.
            "--jinja",
        };
        if (options.Threads > 0)
        {
            arguments.AddRange(["--threads", options.Threads.ToString(CultureInfo.InvariantCulture)]);
        }

        if (options.Embeddings)
        {
            // An input is embedded in one physical batch: as large as a slot's context, so any input that fits the
            // context is taken.
            var batch = options.ContextSize.ToString(CultureInfo.InvariantCulture);
            arguments.AddRange(["--embeddings", "--batch-size", batch, "--ubatch-size", batch]);
            if (options.Pooling is { } pooling)
            {
                arguments.AddRange(["--pooling", pooling]);
            }
        }

        if (options.Mmproj is { } projector)
        {
            arguments.AddRange(["--mmproj", projector]);
        }

        arguments.AddRange(options.ExtraArgs);
        return arguments;
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        await Task.Delay(delay, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    private static string Suffix(string? detail) => string.IsNullOrEmpty(detail) ? "." : $": {detail}";

    /// <summary>Gives a slot back when the answer is done, however it ends.</summary>
    private sealed class SlotLease(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "llama-server could not count a prompt's tokens ({ErrorType}); estimated instead")]
    private static partial void LogTokenizeFailed(ILogger logger, string errorType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting llama-server (pid {ProcessId}) on 127.0.0.1:{Port} with model {Model}")]
    private static partial void LogStarting(ILogger logger, int processId, int port, string model);

    [LoggerMessage(Level = LogLevel.Information, Message = "llama-server on port {Port} is ready after {Milliseconds} ms")]
    private static partial void LogReady(ILogger logger, int port, int milliseconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not start llama-server ({ErrorType})")]
    private static partial void LogStartFailed(ILogger logger, string errorType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "llama-server exited with code {ExitCode}; starting it again in {DelayMs} ms")]
    private static partial void LogRestarting(ILogger logger, int exitCode, int delayMs);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "llama-server (guard pid {ProcessId}) left its health check unanswered for {Seconds} s (Inference:HangTimeoutSeconds): stopping it to start it again")]
    private static partial void LogHung(ILogger logger, int processId, int seconds);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Request {RequestId}: the connection to llama-server broke (answering already: {Answering}) while llama-server lives")]
    private static partial void LogConnectionBroke(ILogger logger, Guid requestId, bool answering);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId} found llama-server run {Run} gone before it reached it; it waits for the next run")]
    private static partial void LogWaitingForNextRun(ILogger logger, Guid requestId, int run);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId}: {PromptTokens} prompt tokens ({CachedTokens} from cache) in {PromptMs} ms, {CompletionTokens} generated in {PredictedMs} ms ({DroppedTurns} old turns dropped)")]
    private static partial void LogCompleted(ILogger logger, Guid requestId, int promptTokens, int cachedTokens,
        int completionTokens, double promptMs, double predictedMs, int droppedTurns);
}
