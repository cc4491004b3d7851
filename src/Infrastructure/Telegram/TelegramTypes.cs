using System.Text.Json;
using System.Text.Json.Serialization;

namespace MeatLizard.Infrastructure.Telegram;

// The few Bot API objects the bot reads (https://core.telegram.org/bots/api#available-types), with only the fields it
// uses; unknown fields are ignored, as the API adds fields over time.

public sealed record TelegramUser(long Id, bool IsBot, string FirstName, string? LastName = null, string? Username = null);

/// <summary>A chat: <c>private</c>, <c>group</c>, <c>supergroup</c> or <c>channel</c>.</summary>
public sealed record TelegramChat(long Id, string Type, string? Title = null)
{
    public bool IsPrivate => Type == "private";

    public bool IsGroup => Type is "group" or "supergroup";
}

/// <summary>A marked span of a message's text, offsets in UTF-16 code units: <c>mention</c>, <c>bot_command</c>, ….</summary>
public sealed record TelegramEntity(string Type, int Offset, int Length);

public sealed record TelegramMessage(
    long MessageId,
    TelegramChat Chat,
    long Date,
    TelegramUser? From = null,
    string? Text = null,
    IReadOnlyList<TelegramEntity>? Entities = null,
    TelegramMessage? ReplyToMessage = null);

/// <summary>A reaction type: <c>emoji</c> (with <see cref="Emoji"/>), <c>custom_emoji</c> or <c>paid</c>.</summary>
public sealed record TelegramReactionType(string Type, string? Emoji = null);

/// <summary>
/// A change of a user's reactions on a message (<c>message_reaction</c>, delivered only when asked for in
/// <c>allowed_updates</c>); <see cref="User"/> is absent when the reaction is anonymous (then <c>actor_chat</c> is set).
/// </summary>
public sealed record TelegramMessageReaction(
    TelegramChat Chat,
    long MessageId,
    long Date,
    IReadOnlyList<TelegramReactionType> OldReaction,
    IReadOnlyList<TelegramReactionType> NewReaction,
    TelegramUser? User = null);

/// <summary>An update; its <c>update_id</c> is required (read as 0 when missing, it would confirm nothing and collide).</summary>
public sealed record TelegramUpdate([property: JsonRequired] long UpdateId, TelegramMessage? Message = null, TelegramMessageReaction? MessageReaction = null);

/// <summary>One entry of the bot's command menu (setMyCommands).</summary>
public sealed record TelegramBotCommand(string Command, string Description);

/// <summary>The Bot API's snake_case JSON.</summary>
public static class TelegramJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
