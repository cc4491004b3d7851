using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// The one-shot engine: one llama-completion (or, in older llama.cpp, llama-cli) run per request. The model's chat
/// template is applied to the system prompt (with the earlier turns as a transcript) and the last user message, both
/// passed in files readable only by this user (never on the command line); stdout is streamed as it comes, without
/// llama.cpp's own markers; a timeout or cancel kills the process tree. A run that ends without its perf lines (and
/// without the end-of-text marker) may have lost the end of its text too (llama.cpp issue 22142), so it is run again
/// with the same seed, up to <see cref="MaxReruns"/> times, and only what the rerun adds is streamed. Simple and stateless, but every request
/// pays the model load: the managed server (<see cref="LlamaServerEngine"/>) is the faster choice.
/// </summary>
public sealed partial class LlamaCliEngine(
    LlamaCppOptions options,
    LlamaCppInstallation installation,
    ILogger<LlamaCliEngine> logger) : IInferenceEngine
{
    /// <summary>How many times a run that lost its end (llama.cpp issue 22142) is run again.</summary>
    internal const int MaxReruns = 2;

    public string Name => "LlamaCli";

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken)
    {
        var health = installation.CompletionPath is not { } binary || !File.Exists(binary)
            ? new EngineHealth(false, $"no llama-completion or llama-cli in {installation.Directory}")
            : !File.Exists(installation.ModelPath)
                ? new EngineHealth(false, $"the model {installation.ModelPath} (Inference:ModelPath) does not exist")
                : new EngineHealth(true, null);
        return Task.FromResult(health);
    }

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var health = await CheckHealthAsync(cancellationToken);
        if (!health.Ready)
        {
            throw new InferenceFailedException($"llama.cpp cannot run: {health.Detail}.");
        }

        var prompt = ChatPrompt.Fit(request, options);
        // Drawn here rather than left to llama.cpp (-1), so that a run that lost its end can be run again to the same answer.
        var seed = options.Seed >= 0 ? options.Seed : Random.Shared.NextInt64(0, uint.MaxValue);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        var sent = new StringBuilder();
        InferenceCompleted? estimated = null;
        var runs = 0;
        string? givenUp = null;
        while (givenUp is null && runs <= MaxReruns)
        {
            // llama-completion writes its output through a logger thread that it does not drain at exit (llama.cpp
            // issue 22142): a run may lose the end of its text, and then the perf lines written after it. Perf lines
            // (or the end-of-text marker) there mean all before them was written; without them, the same prompt and
            // seed run again give the whole answer, of which only what comes after the text already sent goes on.
            runs++;
            var already = new AlreadySent(sent.ToString());
            var run = await LlamaCliRun.StartAsync(installation, options, prompt, seed, timeout.Token);
            await using (run)
            {
                while (true)
                {
                    var (update, timedOut) = await NextAsync(run, timeout, cancellationToken);
                    if (timedOut)
                    {
                        givenUp = estimated is not null ? "a rerun timed out" : throw TimedOut();
                        break;
                    }

                    if (update is InferenceDelta delta)
                    {
                        var fresh = already.Pass(delta.Text);
                        if (already.Differs)
                        {
                            givenUp = "a rerun wrote another answer";
                            break;
                        }

                        if (fresh.Length > 0)
                        {
                            sent.Append(fresh);
                            yield return delta with { Text = fresh };
                        }

                        continue;
                    }

                    if (update is InferenceCompleted completed)
                    {
                        if (run.TextComplete && already.Covered())
                        {
                            if (run.CountsEstimated)
                            {
                                // Only the perf lines are missing, after the end-of-text marker: another run would
                                // give exact counts, for the time of the whole answer again.
                                LogCountsEstimated(logger, request.RequestId);
                            }

                            LogCompleted(logger, request.RequestId, completed.PromptTokens, completed.CompletionTokens,
                                run.PromptMilliseconds, run.PredictedMilliseconds, prompt.DroppedTurns, runs);
                            yield return completed;
                            yield break;
                        }

                        if (run.TextComplete)
                        {
                            givenUp = "a rerun wrote another answer"; // whole, yet without all that was sent
                        }
                        else
                        {
                            // A rerun cut shorter than what was sent is no better: the counts of the longer one stay.
                            estimated = already.Covered() ? completed : estimated;
                            if (runs <= MaxReruns)
                            {
                                LogPerfLinesLost(logger, request.RequestId, runs);
                            }
                        }
                    }

                    break;
                }
            }
        }

        // Every run lost its end, or a rerun could not take over: what was sent stays, with estimated counts.
        LogAnswerMayBeCut(logger, request.RequestId, runs, givenUp ?? "every run lost its perf lines");
        LogCompleted(logger, request.RequestId, estimated!.PromptTokens, estimated.CompletionTokens, 0, 0,
            prompt.DroppedTurns, runs);
        yield return estimated;
    }

    /// <summary>The run's next update, or timed out when Inference:TimeoutSeconds ran out (not on a cancel).</summary>
    private static async Task<(InferenceUpdate? Update, bool TimedOut)> NextAsync(
        LlamaCliRun run, CancellationTokenSource timeout, CancellationToken cancellationToken)
    {
        try
        {
            return (await run.NextAsync(), false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return (null, true);
        }
    }

    private InferenceFailedException TimedOut() => new(
        $"llama.cpp did not finish within Inference:TimeoutSeconds ({options.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s).");

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Request {RequestId}: llama.cpp's perf lines were lost at exit (llama.cpp issue 22142) after the whole answer, so the token counts are estimates")]
    private static partial void LogCountsEstimated(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId}: llama-completion run {Run} lost its perf lines at exit (llama.cpp issue 22142), so its text may be cut: running it again with the same seed")]
    private static partial void LogPerfLinesLost(ILogger logger, Guid requestId, int run);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Request {RequestId}: llama-completion lost the end of its output at exit (llama.cpp issue 22142) and {Runs} runs did not recover it ({Reason}); the answer may be cut short and its token counts are estimates")]
    private static partial void LogAnswerMayBeCut(ILogger logger, Guid requestId, int runs, string reason);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId}: {PromptTokens} prompt tokens in {PromptMs} ms, {CompletionTokens} generated in {PredictedMs} ms ({DroppedTurns} old turns dropped, {Runs} llama-completion runs)")]
    private static partial void LogCompleted(ILogger logger, Guid requestId, int promptTokens, int completionTokens,
        double promptMs, double predictedMs, int droppedTurns, int runs);
}
