using System.Text.Json;
using System.Text.Json.Nodes;

namespace MeatLizard.Telegram.Tests.Fake;

// Reactions on messages: message_reaction updates, made only for a bot that asked for them in allowed_updates.
public sealed partial class FakeTelegramServer
{
    /// <summary>
    /// The update types a bot gets when it never said (Bot API, getUpdates: "all update types except chat_member,
    /// message_reaction, and message_reaction_count").
    /// </summary>
    private static readonly string[] DefaultAllowedUpdates =
    [
        "message", "edited_message", "channel_post", "edited_channel_post", "business_connection", "business_message",
        "edited_business_message", "deleted_business_messages", "inline_query", "chosen_inline_result", "callback_query",
        "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
        "chat_join_request", "chat_boost", "removed_chat_boost",
    ];

    private HashSet<string> _allowedUpdates = [.. DefaultAllowedUpdates];

    /// <summary>
    /// getUpdates' <c>allowed_updates</c>: a JSON list that replaces the bot's setting (an empty one: the default); left
    /// out, the previous setting stays. It applies to updates made from then on.
    /// </summary>
    private bool ReadAllowedUpdates(JsonObject parameters)
    {
        var value = parameters["allowed_updates"];
        if (value is null)
        {
            return true;
        }

        JsonNode? list;
        try
        {
            list = value is JsonArray ? value : JsonNode.Parse(value.ToString());
        }
        catch (JsonException)
        {
            return false;
        }

        if (list is not JsonArray types || types.Any(t => t?.GetValueKind() != JsonValueKind.String))
        {
            return false;
        }

        lock (_lock)
        {
            _allowedUpdates = types.Count == 0 ? [.. DefaultAllowedUpdates] : [.. types.Select(t => t!.GetValue<string>())];
        }

        return true;
    }

    /// <summary>
    /// <paramref name="from"/> sets their reactions on <paramref name="message"/> to <paramref name="emojis"/> (none
    /// takes them away; several, as a Premium user may): a <c>message_reaction</c> update (MessageReactionUpdated: chat,
    /// message_id, user, date, old_reaction and new_reaction, each the whole list as ReactionTypeEmoji) when the bot
    /// asked for them; Telegram makes none for reactions set by bots.
    /// </summary>
    public void React(FakeUser from, FakeMessage message, params string[] emojis)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(message);
        lock (_lock)
        {
            var old = _reactions.GetValueOrDefault((message.Chat.Id, message.MessageId, from.Id)) ?? [];
            _reactions[(message.Chat.Id, message.MessageId, from.Id)] = emojis;
            // "The bot must be an administrator in the chat" (Update.message_reaction): in a group, only where it is one.
            if (from.IsBot || !_allowedUpdates.Contains("message_reaction")
                || message.Chat.Type != "private" && !BotAdministers.Contains(message.Chat.Id))
            {
                return;
            }

            var updateId = ++_nextUpdateId;
            _updates.Add((updateId, new JsonObject
            {
                ["update_id"] = updateId,
                ["message_reaction"] = new JsonObject
                {
                    ["chat"] = message.Chat.ToJson(),
                    ["message_id"] = message.MessageId,
                    ["user"] = from.ToJson(),
                    ["date"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                    ["old_reaction"] = Reactions(old),
                    ["new_reaction"] = Reactions(emojis),
                },
            }));
            _updateArrived.TrySetResult();
            _updateArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private readonly Dictionary<(long Chat, long Message, long User), string[]> _reactions = [];

    /// <summary>The groups where the bot is an administrator (reactions there reach it).</summary>
    public HashSet<long> BotAdministers { get; } = [];

    private static JsonArray Reactions(string[] emojis) =>
        [.. emojis.Select(e => (JsonNode)new JsonObject { ["type"] = "emoji", ["emoji"] = e })];
}
