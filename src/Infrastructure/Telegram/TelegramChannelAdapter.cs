using System.Collections.Concurrent;
using System.Globalization;
using MeatLizard.Application.Channels;

namespace MeatLizard.Infrastructure.Telegram;

/// <summary>
/// How far apart the bot's messages (posts and edits) in one chat are kept, from Telegram's advice to bots: about one
/// per second in a chat, and no more than 20 per minute in a group (3.1 s keeps a little margin). Streaming edits
/// then never meet a 429 in steady state.
/// </summary>
public sealed record TelegramPace(TimeSpan PrivateChat, TimeSpan GroupChat)
{
    public static readonly TelegramPace Documented = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3.1));
}

/// <summary>
/// Telegram as a chat network of the channel handler: replies, edits and "typing" through the Bot API, each chat's
/// messages kept to <see cref="TelegramPace"/> (a message waits its turn rather than being refused).
/// </summary>
public sealed class TelegramChannelAdapter(TelegramBotClient client, TelegramPace pace, TimeProvider time) : IChannelAdapter
{
    public const string NetworkName = "telegram";

    /// <summary>Telegram's limit for a message's text (sendMessage, editMessageText).</summary>
    public const int MessageLimit = 4096;

    private readonly ConcurrentDictionary<long, ChatTurn> _chats = new();

    public string Network => NetworkName;

    public int MaxMessageLength => MessageLimit;

    /// <summary>Telegram asks bots for at most about one message per second in a chat (groups are paced further).</summary>
    public TimeSpan MinEditInterval => TimeSpan.FromSeconds(1);

    /// <summary>A chat action shows for 5 s or until the bot's next message; renewed a little before.</summary>
    public TimeSpan TypingInterval => TimeSpan.FromSeconds(4);

    public async Task<string> PostAsync(string chatId, string? replyToMessageId, string text, CancellationToken cancellationToken)
    {
        var chat = Id(chatId);
        var posted = await PacedAsync(chat, () => client.SendMessageAsync(chat, text,
            replyToMessageId is null ? null : Id(replyToMessageId), cancellationToken), cancellationToken);
        return posted.MessageId.ToString(CultureInfo.InvariantCulture);
    }

    public Task EditAsync(string chatId, string messageId, string text, CancellationToken cancellationToken)
    {
        var chat = Id(chatId);
        return PacedAsync(chat, async () =>
        {
            await client.EditMessageTextAsync(chat, Id(messageId), text, cancellationToken);
            return true;
        }, cancellationToken);
    }

    public Task ShowTypingAsync(string chatId, CancellationToken cancellationToken) =>
        client.SendChatActionAsync(Id(chatId), "typing", cancellationToken);

    /// <summary>One message at a time per chat, each at least the chat's gap after the one before.</summary>
    private async Task<T> PacedAsync<T>(long chatId, Func<Task<T>> send, CancellationToken cancellationToken)
    {
        var chat = _chats.GetOrAdd(chatId, _ => new ChatTurn());
        await chat.Turn.WaitAsync(cancellationToken);
        try
        {
            // Private chats have the person's (positive) id; groups and supergroups negative ones.
            var gap = chatId > 0 ? pace.PrivateChat : pace.GroupChat;
            var wait = chat.LastSent + gap - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, cancellationToken);
            }

            try
            {
                return await send();
            }
            finally
            {
                chat.LastSent = time.GetUtcNow();
            }
        }
        finally
        {
            chat.Turn.Release();
        }
    }

    private static long Id(string value) => long.Parse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private sealed class ChatTurn
    {
        public SemaphoreSlim Turn { get; } = new(1, 1);

        public DateTimeOffset LastSent { get; set; } = DateTimeOffset.MinValue;
    }
}
