using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay;

/// <summary>
/// Builds what the model sees from the session's history within the context window: the system prompt is always
/// kept, then turns from the newest back until the budget (context size minus room for the answer) is spent.
/// </summary>
public sealed class PromptBuilder(ChatModels models, IOptions<InferenceOptions> inference)
{
    private const int PerTurnOverhead = 4;

    /// <summary>A cheap estimate (about four characters a token) that errs on the side of fewer turns.</summary>
    public static int EstimateTokens(string text) => (text.Length / 4) + 1;

    /// <summary>
    /// From the session's recent turns, oldest first, as the dispatcher's claim reads them
    /// (<see cref="ClaimedRequest.History"/>: <see cref="RelayOptions.MaxHistoryMessages"/> of them at most).
    /// </summary>
    public async Task<InferenceRequest> BuildAsync(
        RelayRequest request, Chat chat, IReadOnlyList<ChatTurn> history, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(chat);
        var options = inference.Value;
        var maxTokens = request.Sampling.MaxTokens ?? options.MaxTokens;
        var systemPrompt = chat.SystemPrompt?.Value;
        var budget = options.ContextSize - maxTokens - (systemPrompt is null ? 0 : EstimateTokens(systemPrompt) + PerTurnOverhead);
        var model = await models.OfAsync(chat, cancellationToken);
        return new InferenceRequest(
            request.Id.Value,
            chat.Id.Value,
            model,
            systemPrompt,
            FitToBudget(history, budget),
            request.Sampling.Temperature,
            request.Sampling.TopP,
            maxTokens,
            GenerationExtras.Of(request.Options)) { AnswerStart = request.AnswerStart };
    }

    /// <summary>
    /// Newest turns that fit; the newest one is kept even when it alone is over budget, and a kept tool result with the
    /// answer whose call it answers.
    /// </summary>
    public static IReadOnlyList<ChatTurn> FitToBudget(IReadOnlyList<ChatTurn> history, int budget)
    {
        var first = history.Count;
        var used = 0;
        while (first > 0)
        {
            var cost = EstimateTokens(history[first - 1].CountedText) + PerTurnOverhead;
            if (first < history.Count && used + cost > budget)
            {
                break;
            }

            first--;
            used += cost;
        }

        first = ChatTurn.KeepingCalls(history, first);
        return first == 0 ? history : history.Skip(first).ToList();
    }
}
