using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// What the model is given for one request, cut to the context window: the system prompt is always kept, then turns
/// from the newest back while they fit in what the answer leaves free (oldest turns are dropped first).
/// </summary>
public sealed record ChatPrompt(string? SystemPrompt, IReadOnlyList<ChatTurn> Turns, int DroppedTurns, int MaxTokens)
{
    /// <summary>Room for the chat template's own tokens around each message.</summary>
    private const int PerMessageOverhead = 8;

    /// <summary>
    /// A cautious token estimate: one token per three UTF-8 bytes. Real tokenizers average nearer four bytes a token
    /// for English, so this errs towards dropping a turn rather than overflowing the context (which llama.cpp
    /// refuses); the dispatcher's coarser cut (<see cref="PromptBuilder"/>) came first.
    /// </summary>
    public static int EstimateTokens(string text) => (System.Text.Encoding.UTF8.GetByteCount(text) / 3) + 1;

    /// <summary>
    /// The most tokens a text can take: llama.cpp's tokenizers make no token shorter than one byte (unknown bytes fall
    /// back to byte tokens), plus the space some put in front.
    /// </summary>
    public static int MostTokens(string text) => System.Text.Encoding.UTF8.GetByteCount(text) + 1;

    /// <summary>
    /// Fits the request with the model's own token counts (<paramref name="countTokens"/>, e.g. llama-server's
    /// /tokenize). When the whole conversation fits even at <see cref="MostTokens"/> per text, nothing is counted.
    /// </summary>
    public static async Task<ChatPrompt> FitAsync(InferenceRequest request, LlamaCppOptions options,
        Func<string, CancellationToken, ValueTask<int>> countTokens, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(countTokens);
        var maxTokens = Math.Clamp(request.MaxTokens ?? options.MaxTokens, 1, options.ContextSize - 1);
        var systemPrompt = string.IsNullOrWhiteSpace(request.SystemPrompt) ? null : request.SystemPrompt;
        var room = options.ContextSize - maxTokens - PerMessageOverhead;
        var most = (systemPrompt is null ? 0 : MostTokens(systemPrompt) + PerMessageOverhead)
                   + request.Turns.Sum(t => MostTokens(t.CountedText) + PerMessageOverhead);
        if (most <= room)
        {
            return new ChatPrompt(systemPrompt, request.Turns, 0, maxTokens);
        }

        var budget = room - (systemPrompt is null ? 0 : await countTokens(systemPrompt, cancellationToken) + PerMessageOverhead);
        var turns = request.Turns;
        var first = turns.Count;
        var used = 0;
        while (first > 0)
        {
            var cost = await countTokens(turns[first - 1].CountedText, cancellationToken) + PerMessageOverhead;
            if (first < turns.Count && used + cost > budget)
            {
                break;
            }

            first--;
            used += cost;
        }

        return Kept(systemPrompt, turns, first, maxTokens);
    }

    /// <summary>The turns from <paramref name="first"/> on, and any answer a kept tool result needs.</summary>
    private static ChatPrompt Kept(string? systemPrompt, IReadOnlyList<ChatTurn> turns, int first, int maxTokens)
    {
        first = ChatTurn.KeepingCalls(turns, first);
        return new ChatPrompt(systemPrompt, turns.Skip(first).ToList(), first, maxTokens);
    }

    public static ChatPrompt Fit(InferenceRequest request, LlamaCppOptions options)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        var maxTokens = Math.Clamp(request.MaxTokens ?? options.MaxTokens, 1, options.ContextSize - 1);
        var systemPrompt = string.IsNullOrWhiteSpace(request.SystemPrompt) ? null : request.SystemPrompt;
        var budget = options.ContextSize - maxTokens - PerMessageOverhead
            - (systemPrompt is null ? 0 : EstimateTokens(systemPrompt) + PerMessageOverhead);
        var turns = request.Turns;
        var first = turns.Count;
        var used = 0;
        while (first > 0)
        {
            var cost = EstimateTokens(turns[first - 1].CountedText) + PerMessageOverhead;
            if (first < turns.Count && used + cost > budget)
            {
                break;
            }

            first--;
            used += cost;
        }

        return Kept(systemPrompt, turns, first, maxTokens);
    }

    /// <summary>The estimated size of the whole prompt, template included.</summary>
    public int EstimatePromptTokens() => Messages().Sum(m => EstimateTokens(m.CountedText) + PerMessageOverhead);

    /// <summary>The messages for an OpenAI-style chat request, system prompt first.</summary>
    public IEnumerable<ChatTurn> Messages()
    {
        if (SystemPrompt is not null)
        {
            yield return new ChatTurn(MessageRole.System, SystemPrompt);
        }

        foreach (var turn in Turns)
        {
            yield return turn;
        }
    }

    /// <summary>
    /// For a single-turn run (llama-completion applies the model's chat template to one system and one user message):
    /// the system prompt followed by the earlier turns as a transcript, and the last user turn.
    /// </summary>
    public (string? System, string User) SingleTurn()
    {
        var lastUser = Turns.Count > 0 && Turns[^1].Role == MessageRole.User ? Turns[^1] : null;
        var earlier = lastUser is null ? Turns : Turns.Take(Turns.Count - 1).ToList();
        var system = SystemPrompt;
        if (earlier.Count > 0)
        {
            var transcript = string.Join("\n", earlier.Select(t => $"{MessageRoles.Name(t.Role)}: {t.Content}"));
            system = (system is null ? "" : system + "\n\n") + "The conversation so far:\n" + transcript;
        }

        return (system, lastUser?.Content ?? "");
    }
}
