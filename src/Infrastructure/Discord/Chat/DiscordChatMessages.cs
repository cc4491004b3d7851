using System.Text.Json;
using MeatLizard.Application.Channels;

namespace MeatLizard.Infrastructure.Discord.Chat;

/// <summary>
/// Reads a gateway MESSAGE_CREATE as a question for the channel handler: a member's message (not a bot's, not a
/// webhook's) in a guild that mentions the bot or replies to one of its messages, with the bot's mention taken out.
/// Discord delivers the content of such messages even without the MESSAGE_CONTENT intent.
/// </summary>
public static class DiscordChatMessages
{
    public static IncomingChannelMessage? Read(JsonElement message, string botUserId)
    {
        ArgumentNullException.ThrowIfNull(botUserId);
        if (message.ValueKind != JsonValueKind.Object
            || !message.TryGetProperty("author", out var author) || author.ValueKind != JsonValueKind.Object
            || Flag(author, "bot") || message.TryGetProperty("webhook_id", out var hook) && hook.ValueKind == JsonValueKind.String
            || Text(message, "guild_id") is not { } guildId
            || Text(message, "channel_id") is not { } channelId || Text(message, "id") is not { } messageId
            || Text(author, "id") is not { } authorId)
        {
            return null;
        }

        var mentioned = message.TryGetProperty("mentions", out var mentions) && mentions.ValueKind == JsonValueKind.Array
                        && mentions.EnumerateArray().Any(m => Text(m, "id") == botUserId);
        var replyTo = message.TryGetProperty("message_reference", out var reference) && reference.ValueKind == JsonValueKind.Object
            ? Text(reference, "message_id")
            : null;
        var repliedToBot = message.TryGetProperty("referenced_message", out var referenced)
                           && referenced.ValueKind == JsonValueKind.Object
                           && referenced.TryGetProperty("author", out var referencedAuthor)
                           && Text(referencedAuthor, "id") == botUserId;
        if (!mentioned && !repliedToBot)
        {
            return null;
        }

        var content = (Text(message, "content") ?? "")
            .Replace($"<@{botUserId}>", "", StringComparison.Ordinal)
            .Replace($"<@!{botUserId}>", "", StringComparison.Ordinal)
            .Trim();
        var name = message.TryGetProperty("member", out var member) && Text(member, "nick") is { } nick ? nick
            : Text(author, "global_name") ?? Text(author, "username") ?? authorId;
        return new IncomingChannelMessage(
            new ChannelMember(DiscordChatAdapter.NetworkName, authorId, name),
            new ChannelPlace(channelId, guildId),
            messageId,
            repliedToBot ? replyTo : null,
            content,
            AddressedToBot: true);
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value)
                                                  && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static bool Flag(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.True;
}
