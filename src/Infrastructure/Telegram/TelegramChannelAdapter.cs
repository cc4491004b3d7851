using System.Globalization;
using MeatLizard.Application.Channels;

namespace MeatLizard.Infrastructure.Telegram;

/// <summary>Telegram as a chat network of the channel handler: replies, edits and "typing" through the Bot API.</summary>
public sealed class TelegramChannelAdapter(TelegramBotClient client) : IChannelAdapter
{
    public const string NetworkName = "telegram";

    /// <summary>Telegram's limit for a message's text (sendMessage, editMessageText).</summary>
    public const int MessageLimit = 4096;

    public string Network => NetworkName;

    public int MaxMessageLength => MessageLimit;

    /// <summary>Telegram asks bots for at most about one message per second in a chat.</summary>
    public TimeSpan MinEditInterval => TimeSpan.FromSeconds(1);

    /// <summary>A chat action shows for 5 s or until the bot's next message; renewed a little before.</summary>
    public TimeSpan TypingInterval => TimeSpan.FromSeconds(4);

    public async Task<string> PostAsync(string chatId, string? replyToMessageId, string text, CancellationToken cancellationToken)
    {
        var posted = await client.SendMessageAsync(Id(chatId), text, replyToMessageId is null ? null : Id(replyToMessageId),
            cancellationToken);
        return posted.MessageId.ToString(CultureInfo.InvariantCulture);
    }

    public Task EditAsync(string chatId, string messageId, string text, CancellationToken cancellationToken) =>
        client.EditMessageTextAsync(Id(chatId), Id(messageId), text, cancellationToken);

    public Task ShowTypingAsync(string chatId, CancellationToken cancellationToken) =>
        client.SendChatActionAsync(Id(chatId), "typing", cancellationToken);

    private static long Id(string value) => long.Parse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
}
