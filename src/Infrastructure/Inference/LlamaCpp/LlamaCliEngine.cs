using System.Globalization;
using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// The one-shot engine: one llama-completion (or, in older llama.cpp, llama-cli) run per request. The model's chat
/// template is applied to the system prompt (with the earlier turns as a transcript) and the last user message, both
/// passed in files readable only by this user (never on the command line); stdout is streamed as it comes, without
/// llama.cpp's own markers; a timeout or cancel kills the process tree. Simple and stateless, but every request pays
/// the model load: the managed server (<see cref="LlamaServerEngine"/>) is the faster choice.
/// </summary>
public sealed partial class LlamaCliEngine(
    LlamaCppOptions options,
    LlamaCppInstallation installation,
    ILogger<LlamaCliEngine> logger) : IInferenceEngine
{
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
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        var run = await LlamaCliRun.StartAsync(installation, options, prompt, timeout.Token);
        await using (run)
        {
            while (true)
            {
                InferenceUpdate? update;
                try
                {
                    update = await run.NextAsync();
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw new InferenceFailedException(
                        $"llama.cpp did not finish within Inference:TimeoutSeconds ({options.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s).");
                }

                if (update is null)
                {
                    break;
                }

                if (update is InferenceCompleted completed)
                {
                    if (run.CountsEstimated)
                    {
                        LogCountsEstimated(logger, request.RequestId);
                    }

                    LogCompleted(logger, request.RequestId, completed.PromptTokens, completed.CompletionTokens,
                        run.PromptMilliseconds, run.PredictedMilliseconds, prompt.DroppedTurns);
                }

                yield return update;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Request {RequestId}: llama.cpp's perf lines were lost at exit, so the token counts are estimates")]
    private static partial void LogCountsEstimated(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId}: {PromptTokens} prompt tokens in {PromptMs} ms, {CompletionTokens} generated in {PredictedMs} ms ({DroppedTurns} old turns dropped)")]
    private static partial void LogCompleted(ILogger logger, Guid requestId, int promptTokens, int completionTokens,
        double promptMs, double predictedMs, int droppedTurns);
}
