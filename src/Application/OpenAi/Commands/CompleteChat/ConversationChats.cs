using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.OpenAi.Commands;

/// <summary>
/// Finds the chat an OpenAI conversation continues: a client sends the whole history each time, and the chat whose
/// messages it repeats — words, calls and images alike — is the one it goes on in. Keeps the images its question brings
/// (and, in a new chat, its earlier turns'), in that chat's place in the object store.
/// </summary>
public sealed class ConversationChats(IChatReadModel reads, ChatImages images)
{
    /// <summary>Keeps the question's images (<paramref name="question"/>) for the chat <paramref name="chat"/>.</summary>
    public Task<IReadOnlyList<MessageImage>> KeepImagesAsync(User user, ChatId chat, IReadOnlyList<ImageInput> question,
        CancellationToken cancellationToken) =>
        question.Count == 0
            ? Task.FromResult<IReadOnlyList<MessageImage>>([])
            : images.KeepAsync(user.Id, chat, [.. question.Select(i => (i.Data, i.Header))], cancellationToken);

    /// <summary>
    /// <paramref name="earlier"/> with each user turn's images (<paramref name="sent"/>, in the turns' order) kept for the
    /// new chat <paramref name="chat"/>; every image kept is added to <paramref name="kept"/> as it is, so that a failure
    /// part way leaves the caller all of them to forget.
    /// </summary>
    public async Task<IReadOnlyList<EarlierTurn>> KeepEarlierImagesAsync(User user, ChatId chat,
        IReadOnlyList<EarlierTurn> earlier, IReadOnlyList<IReadOnlyList<ImageInput>> sent, List<MessageImage> kept,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kept);
        var turns = new List<EarlierTurn>(earlier.Count);
        for (var i = 0; i < earlier.Count; i++)
        {
            var pictures = await KeepImagesAsync(user, chat, sent[i], cancellationToken);
            kept.AddRange(pictures);
            turns.Add(pictures.Count == 0 ? earlier[i] : earlier[i] with { Images = pictures });
        }

        return turns;
    }

    /// <summary>Deletes images kept for a question that was refused after all.</summary>
    public Task ForgetImagesAsync(IReadOnlyList<MessageImage> kept) =>
        kept.Count == 0 ? Task.CompletedTask : images.ForgetAsync(kept, CancellationToken.None);

    /// <summary>How many of the caller's chats ending with the same answer are compared in full.</summary>
    private const int Candidates = 5;

    /// <summary>
    /// The caller's open chat with this model and system prompt whose messages are exactly
    /// <paramref name="earlier"/>, each user's with the images <paramref name="sent"/> names (the same bytes, in the same
    /// order); null when there is none (or nothing earlier: a first question starts a chat).
    /// </summary>
    public async Task<ChatId?> FindAsync(User user, ModelName model, SystemPrompt? systemPrompt,
        IReadOnlyList<EarlierTurn> earlier, IReadOnlyList<IReadOnlyList<ImageInput>> sent,
        CancellationToken cancellationToken)
    {
        if (earlier.Count == 0 || earlier[^1].Role != MessageRole.Assistant)
        {
            return null;
        }

        foreach (var chat in await reads.FindChatsEndingWithAsync(user.Id, earlier[^1].Content, Candidates, cancellationToken))
        {
            if (chat.Model != model || chat.SystemPrompt != systemPrompt)
            {
                continue;
            }

            var id = chat.Id;
            var stored = await reads.GetTranscriptAsync(id, wholeTree: false, cancellationToken);
            if (stored.Count == earlier.Count && stored.Zip(earlier).All(pair => Same(pair.First, pair.Second))
                && await SameImagesAsync(user, id, stored, sent, cancellationToken))
            {
                return id;
            }
        }

        return null;
    }

    /// <summary>
    /// Each stored message holds the images sent with its turn: as many, in order, each of the same bytes (by their
    /// SHA-256, recorded when kept; an image kept before that is read to be hashed).
    /// </summary>
    private async Task<bool> SameImagesAsync(User user, ChatId chat, IReadOnlyList<MessageDto> stored,
        IReadOnlyList<IReadOnlyList<ImageInput>> sent, CancellationToken cancellationToken)
    {
        for (var i = 0; i < stored.Count; i++)
        {
            var held = stored[i].Images ?? [];
            if (held.Count != sent[i].Count)
            {
                return false;
            }

            for (var j = 0; j < held.Count; j++)
            {
                if (held[j].Bytes != sent[i][j].Data.Length
                    || await images.Sha256Async(user.Id, chat, held[j], cancellationToken) != sent[i][j].Sha256)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The stored message is the turn: the same role and words, tool calls and answered call.</summary>
    private static bool Same(MessageDto stored, EarlierTurn turn) =>
        stored.Role == MessageRoles.Name(turn.Role) && stored.Content == turn.Content && stored.ToolCallId == turn.ToolCallId
        && (stored.ToolCalls ?? []).SequenceEqual((turn.ToolCalls ?? []).Select(c => c.ToDto()));
}
