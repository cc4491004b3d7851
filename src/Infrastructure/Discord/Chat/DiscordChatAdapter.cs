using MeatLizard.Application.Channels;
using MeatLizard.Infrastructure.Discord.Rest;

namespace MeatLizard.Infrastructure.Discord.Chat;

/// <summary>
/// Discord as a chat network for the channel handler: answers are replies that ping nobody, edited as they grow. Every
/// call goes through <see cref="DiscordRestClient"/>, whose limiter keeps each channel's bucket from being overdrawn;
/// one edit a second stays well inside a channel's message limit, so streaming meets no 429 in steady state.
/// </summary>
public sealed class DiscordChatAdapter(DiscordRestClient rest, DiscordOptions options) : IChannelAdapter
{
    public const string NetworkName = "discord";

    public string Network => NetworkName;

    public int MaxMessageLength => DiscordRestClient.MaxContentLength;

    public TimeSpan MinEditInterval => TimeSpan.FromSeconds(1);

    /// <summary>Discord shows "typing" for 10 s; shown again a little before that.</summary>
    public TimeSpan TypingInterval => options.TypingInterval;

    public async Task<string> PostAsync(string chatId, string? replyToMessageId, string text, CancellationToken cancellationToken)
    {
        var posted = replyToMessageId is null
            ? await rest.CreateMessageAsync(chatId, text, cancellationToken: cancellationToken)
            : await rest.CreateReplyAsync(chatId, replyToMessageId, text, cancellationToken);
        return posted.Id;
    }

    public Task EditAsync(string chatId, string messageId, string text, CancellationToken cancellationToken) =>
        rest.EditMessageAsync(chatId, messageId, text, cancellationToken);

    public Task ShowTypingAsync(string chatId, CancellationToken cancellationToken) =>
        rest.TriggerTypingAsync(chatId, cancellationToken);
}
