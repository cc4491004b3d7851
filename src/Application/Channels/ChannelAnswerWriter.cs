using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Channels;

/// <summary>
/// The answer as it appears on the network: the first part posted as a reply to the question, each further part as a
/// reply to the one before, and every part edited as the answer grows. Only what changed is sent, and each posted
/// message is remembered as belonging to the chat, so a reply to any part continues it. <paramref name="postedBefore"/>
/// is the first part an earlier run posted (before a stop): it is edited rather than posted again.
/// </summary>
public sealed class ChannelAnswerWriter(
    IChannelAdapter adapter, IChannelConversationStore conversations, string chatId, string replyToMessageId,
    ChatId sessionId, string? postedBefore = null)
{
    private readonly List<(string Id, string Text)> _posted = postedBefore is null ? [] : [(postedBefore, "")];

    /// <summary>The ids of the messages posted so far, in order.</summary>
    public IReadOnlyList<string> PostedIds => _posted.Select(p => p.Id).ToList();

    public bool HasPosted => _posted.Count > 0;

    /// <summary>Shows <paramref name="text"/>, split to fit; blank text shows nothing (a network refuses it).</summary>
    public async Task ShowAsync(string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text))
        {
            return;
        }

        var parts = ChannelMessageSplitter.Split(text, adapter.MaxMessageLength);
        for (var i = 0; i < parts.Count; i++)
        {
            if (i >= _posted.Count)
            {
                var replyTo = i == 0 ? replyToMessageId : _posted[i - 1].Id;
                var id = await adapter.PostAsync(chatId, replyTo, parts[i], cancellationToken);
                _posted.Add((id, parts[i]));
                await conversations.RememberPostedAsync(adapter.Network, chatId, id, sessionId, cancellationToken);
            }
            else if (_posted[i].Text != parts[i])
            {
                await adapter.EditAsync(chatId, _posted[i].Id, parts[i], cancellationToken);
                _posted[i] = (_posted[i].Id, parts[i]);
            }
        }

        // A part shown while streaming that the final split no longer needs is emptied rather than left stale.
        for (var i = parts.Count; i < _posted.Count; i++)
        {
            if (_posted[i].Text != Continued)
            {
                await adapter.EditAsync(chatId, _posted[i].Id, Continued, cancellationToken);
                _posted[i] = (_posted[i].Id, Continued);
            }
        }
    }

    /// <summary>What a part left over from streaming reads once the answer fits in fewer messages.</summary>
    public const string Continued = "…";
}
