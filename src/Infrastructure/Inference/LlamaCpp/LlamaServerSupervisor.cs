using System.Diagnostics;
using System.Globalization;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// Keeps one llama-server child running on 127.0.0.1 (a free port, a new API key every start) and says how it is:
/// starts it, waits until it is healthy, publishes it as the ready run, watches it for a hang, and starts it again
/// with a growing delay when it exits or is stopped as hung. Requests take the ready run from here, and say here when
/// one died under them.
/// </summary>
internal sealed partial class LlamaServerSupervisor(
    LlamaCppOptions options,
    LlamaCppInstallation installation,
    HttpClient http,
    ILogger logger) : IDisposable
{
    private static readonly TimeSpan HealthPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a broken connection waits to see whether its llama-server exited with it.</summary>
    private static readonly TimeSpan ExitSeenWithin = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource _stopping = new();
    private readonly LlamaServerProbe _probe = new(http);
    private readonly LlamaServerWatchdog _watchdog = new(http, options.HangTimeoutSeconds);

    // The newest run a request saw die under it: a request that takes a slot afterwards waits for a later run, not the
    // address of one the guard has not found dead yet (sent there, it would meet the same death, and be handed back for
    // a question it never reached).
    private int _lostRun;
    private readonly Lock _gate = new();
    private TaskCompletionSource<LlamaServerRun> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile LlamaServerRun? _current;
    private volatile bool _restarting;
    private Task? _supervisor;
    private LlamaProcess? _process;
    private string? _lastError;
    private int _starts;

    /// <summary>Raised when llama-server became ready, stopped, or could not be started.</summary>
    public event Action? HealthChanged;

    /// <summary>How many times llama-server was started (1 + restarts).</summary>
    public int Starts => Volatile.Read(ref _starts);

    /// <summary>The guard process of the current llama-server (its only child is llama-server), if one runs.</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    /// <summary>The run that is ready now, if one is.</summary>
    public LlamaServerRun? Current => _current;

    /// <summary>Why the last run ended or could not start (null: nothing failed since the last became ready).</summary>
    public string? LastError => _lastError;

    /// <summary>The newest run a request saw die under it (0: none).</summary>
    public int LostRun => Volatile.Read(ref _lostRun);

    /// <summary>Starts supervising; the model loads in the background.</summary>
    public void Start()
    {
        lock (_gate)
        {
            _supervisor ??= Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
        }
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

    /// <summary>
    /// The running llama-server once it is ready, started after run number <paramref name="after"/> (0: any): a request
    /// that found run n gone waits for run n + 1 rather than take n's address again before the guard has noticed.
    /// Throws <see cref="InferenceFailedException"/> after the startup timeout.
    /// </summary>
    public async Task<LlamaServerRun> ReadyRunAsync(int after, CancellationToken cancellationToken)
    {
        Start();
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

    public EngineHealth Health()
    {
        // Loading from the start until llama-server is healthy, as long as nothing fails on the way: requests may wait
        // for it. Not after a failure (a child that exited, or could not start) until one is healthy again.
        // Restarting after a run that was ready died under it, until the next run is ready or fails to start.
        var lastError = _lastError;
        var running = _supervisor is not null && !_stopping.IsCancellationRequested;
        return _ready.Task.IsCompletedSuccessfully
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
    }

    /// <summary>
    /// Whether <paramref name="run"/> ended: a connection to it broke, which its death does — and so does a connection
    /// closed under one request while llama-server lives. Its exit is seen within moments of the break, or it lives.
    /// </summary>
    public async Task<bool> HasEndedAsync(LlamaServerRun run)
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

    /// <summary>Notes that <paramref name="run"/> died under a request: later requests wait for a later run.</summary>
    public void NoteLost(LlamaServerRun run)
    {
        var seen = Volatile.Read(ref _lostRun);
        while (seen < run.Number && Interlocked.CompareExchange(ref _lostRun, run.Number, seen) is var before && before != seen)
        {
            seen = before;
        }
    }

    public void Dispose() => _stopping.Dispose();

    /// <summary>": detail", or "." when there is none: the end of a sentence that may say why.</summary>
    internal static string Suffix(string? detail) => string.IsNullOrEmpty(detail) ? "." : $": {detail}";

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!stopping.IsCancellationRequested)
        {
            if (TryStartProcess() is not { } launched)
            {
                await DelayAsync(delay, stopping);
                delay = NextDelay(delay);
                continue;
            }

            var (process, port, apiKey) = launched;
            _process = process;
            var candidate = new LlamaServerRun(LlamaServerCommand.BaseAddress(port), apiKey, Interlocked.Increment(ref _starts));
            var started = DateTime.UtcNow;
            LogStarting(logger, process.Id, port, Path.GetFileName(installation.ModelPath));
            var readyRun = await BecomeReadyAsync(process, candidate, port, started, stopping);
            var hung = readyRun is not null && await StoppedAsHungAsync(process, readyRun, stopping);
            await ((Task)process.Exited.WaitAsync(stopping)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Withdraw();
            if (stopping.IsCancellationRequested)
            {
                await ForgetAsync(process);
                break;
            }

            var code = await NoteExitAsync(process, hung);
            if (DateTime.UtcNow - started > TimeSpan.FromMinutes(1))
            {
                delay = TimeSpan.FromSeconds(1);
            }

            LogRestarting(logger, code, (int)delay.TotalMilliseconds);
            await DelayAsync(delay, stopping);
            delay = NextDelay(delay);
        }
    }

    /// <summary>Starts llama-server; null when it could not be started (said in the health).</summary>
    private (LlamaProcess Process, int Port, string ApiKey)? TryStartProcess()
    {
        try
        {
            return LlamaServerCommand.Start(options, installation);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            _lastError = $"could not start {installation.ServerPath}: {ex.Message}";
            _restarting = false;
            HealthChanged?.Invoke();
            LogStartFailed(logger, ex.GetType().Name);
            return null;
        }
    }

    /// <summary>
    /// Waits until the started process is healthy and publishes it as the ready run (null: it never got there). The
    /// health is whole and told before anyone waiting for the run goes on, so none of them sees the last one's.
    /// </summary>
    private async Task<LlamaServerRun?> BecomeReadyAsync(
        LlamaProcess process, LlamaServerRun candidate, int port, DateTime started, CancellationToken stopping)
    {
        var ready = await _probe.HealthyAsync(process.Exited, candidate.BaseAddress, options.StartupTimeoutSeconds, stopping);
        if (!ready && !process.HasExited && !stopping.IsCancellationRequested)
        {
            _lastError = $"llama-server did not become ready within Inference:StartupTimeoutSeconds ({options.StartupTimeoutSeconds} s)";
            await process.StopAsync();
        }

        LlamaServerRun? readyRun = null;
        if (ready)
        {
            _lastError = null;
            LogReady(logger, port, (int)(DateTime.UtcNow - started).TotalMilliseconds);
            readyRun = await _probe.DescribeAsync(candidate, options.Embeddings, stopping);
            _current = readyRun;
        }

        // Restarting only after a run that was ready: one that never got there failed, and the host says so.
        _restarting = ready;
        HealthChanged?.Invoke();
        if (readyRun is not null)
        {
            _ready.TrySetResult(readyRun);
        }

        return readyRun;
    }

    /// <summary>
    /// Watches the ready run until it exits; one that hangs is stopped (true), so the requests it held fail as lost
    /// and are handed back. Why is said before the run is given up, so the health that tells of the restart says it.
    /// </summary>
    private async Task<bool> StoppedAsHungAsync(LlamaProcess process, LlamaServerRun run, CancellationToken stopping)
    {
        if (!await _watchdog.HungAsync(process.Exited, run, stopping))
        {
            return false;
        }

        LogHung(logger, process.Id, options.HangTimeoutSeconds);
        _lastError = $"llama-server left its health check unanswered for Inference:HangTimeoutSeconds ({options.HangTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s) and was stopped";
        await process.StopAsync();
        return true;
    }

    /// <summary>The ended run is no longer offered: those who ask next wait for the next one.</summary>
    private void Withdraw()
    {
        lock (_gate)
        {
            _current = null;
            if (_ready.Task.IsCompleted)
            {
                _ready = new TaskCompletionSource<LlamaServerRun>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Says why the process ended (unless it was stopped as hung, said already); its exit code.</summary>
    private async Task<int> NoteExitAsync(LlamaProcess process, bool hung)
    {
        var code = process.Exited.IsCompletedSuccessfully ? await process.Exited : -1;
        if (!hung)
        {
            _lastError = $"llama-server exited with code {code.ToString(CultureInfo.InvariantCulture)}{Suffix(process.DescribeFailure())}";
        }

        HealthChanged?.Invoke();
        await ForgetAsync(process);
        return code;
    }

    private async Task ForgetAsync(LlamaProcess process)
    {
        await process.DisposeAsync();
        _process = null;
    }

    private TimeSpan NextDelay(TimeSpan delay) =>
        TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, options.MaxRestartDelaySeconds));

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        await Task.Delay(delay, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

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
}
