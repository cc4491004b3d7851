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

    /// <summary>
    /// Posts <paramref name="text"/>; a reply is posted once per message replied to. Its nonce names that message, so
    /// posting it again returns the reply posted first, then edited to <paramref name="text"/> — a server bot that
    /// takes over an answer from one that stopped right after posting its first reply (before it could note the
    /// reply's id) continues that reply instead of adding a second.
    /// </summary>
    public async Task<string> PostAsync(string chatId, string? replyToMessageId, string text, CancellationToken cancellationToken)
    {
        if (replyToMessageId is null)
        {
            return (await rest.CreateMessageAsync(chatId, text, cancellationToken: cancellationToken)).Id;
        }

        var posted = await rest.CreateReplyAsync(chatId, replyToMessageId, text,
            DiscordRestClient.NonceOf($"reply:{chatId}:{replyToMessageId}"), cancellationToken);
        if (posted.Content.Trim() != text.Trim())
        {
            await rest.EditMessageAsync(chatId, posted.Id, text, cancellationToken);
        }

        return posted.Id;
    }

    public Task EditAsync(string chatId, string messageId, string text, CancellationToken cancellationToken) =>
        rest.EditMessageAsync(chatId, messageId, text, cancellationToken);

    public Task ShowTypingAsync(string chatId, CancellationToken cancellationToken) =>
        rest.TriggerTypingAsync(chatId, cancellationToken);
}
