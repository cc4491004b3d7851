using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>
/// At start-up, trains the fallback on the model's recent answers so its replies sound like the model. It runs in the
/// background and a failure only costs the fallback some vocabulary, so it is logged and never stops the host.
/// </summary>
public sealed partial class MarkovWarmup(
    IServiceScopeFactory scopes, IFallbackResponder responder, ILogger<MarkovWarmup> logger) : BackgroundService
{
    public const int MaxAnswers = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Do not hold up the host's start while the database is read.
        await Task.Yield();
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var reads = scope.ServiceProvider.GetRequiredService<IChatReadModel>();
            var answers = await reads.GetModelAnswersAsync(MaxAnswers, stoppingToken);

            // They come newest first; learn in the order they were written.
            for (var i = answers.Count - 1; i >= 0; i--)
            {
                stoppingToken.ThrowIfCancellationRequested();
                responder.Learn(answers[i]);
            }

            LogWarmedUp(logger, answers.Count);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogWarmupFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The fallback learned from {AnswerCount} model answers")]
    private static partial void LogWarmedUp(ILogger logger, int answerCount);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The fallback could not learn from stored model answers; it keeps the built-in corpus")]
    private static partial void LogWarmupFailed(ILogger logger, Exception exception);
}
