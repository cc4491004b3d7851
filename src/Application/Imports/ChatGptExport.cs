using System.Text.Json;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Imports;

/// <summary>
/// Reads ChatGPT's data export (<c>conversations.json</c>): an array of conversations, each with a <c>title</c>,
/// <c>create_time</c> and <c>update_time</c> (Unix seconds), a <c>mapping</c> of node id → <c>{message, parent,
/// children}</c> (a tree: an edited question or a regenerated answer is a sibling of the earlier one) and the
/// <c>current_node</c> its current path ends at. What is kept: the text of user and assistant messages
/// (<c>content_type</c> <c>text</c> or <c>multimodal_text</c>, whose string parts are joined). What is left out, and
/// said so in the conversation's notes: parts that are not text (images, audio, files), messages of other content types
/// (code runs, browsing, reasoning), tool messages and system messages (a chat's system prompt is its own setting here,
/// not a turn). Empty messages (ChatGPT's hidden roots) are left out silently. A skipped message's replies follow what it
/// followed.
/// </summary>
public static class ChatGptExport
{
    public const string Format = "chatgpt";

    public static bool Matches(JsonElement root) =>
        root.ValueKind == JsonValueKind.Array
        && root.EnumerateArray().Any(c => c.ValueKind == JsonValueKind.Object && c.TryGetProperty("mapping", out _));

    public static ImportedFile Read(JsonElement root) =>
        new(Format, root.EnumerateArray().Select(ReadConversation).ToList());

    private static ImportedConversation ReadConversation(JsonElement conversation)
    {
        if (conversation.ValueKind != JsonValueKind.Object)
        {
            return ImportedConversation.Unreadable(null, null, "It is not a conversation (a JSON object).");
        }

        var id = ExportNode.Text(conversation, "conversation_id") ?? ExportNode.Text(conversation, "id");
        var title = ExportNode.Text(conversation, "title");
        var key = id is null ? null : $"{Format}:{id}";
        if (!conversation.TryGetProperty("mapping", out var mapping) || mapping.ValueKind != JsonValueKind.Object)
        {
            return ImportedConversation.Unreadable(key, title, "It has no mapping of messages.");
        }

        var created = Time(conversation, "create_time");
        var notes = new SkipNotes();
        var nodes = new Dictionary<string, ExportNode>();
        foreach (var entry in mapping.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var children = entry.Value.TryGetProperty("children", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Where(c => c.ValueKind == JsonValueKind.String).Select(c => c.GetString()!).ToList()
                : [];
            var turn = entry.Value.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object
                ? ReadTurn(entry.Name, message, created, notes)
                : null;
            nodes[entry.Name] = new ExportNode(entry.Name, ExportNode.Text(entry.Value, "parent"), children, turn);
        }

        var (turns, path) = ImportTree.Flatten(nodes, ExportNode.Text(conversation, "current_node"));
        return new ImportedConversation(key, title, created, Time(conversation, "update_time"), turns, path, notes.ToList());
    }

    private static ImportedTurn? ReadTurn(string id, JsonElement message, DateTimeOffset? conversationCreated, SkipNotes notes)
    {
        var role = message.TryGetProperty("author", out var author) ? ExportNode.Text(author, "role") : null;
        var content = message.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
        var type = content.ValueKind == JsonValueKind.Object ? ExportNode.Text(content, "content_type") : null;
        var (text, skippedParts) = type is "text" or "multimodal_text" ? JoinParts(content) : ("", []);
        if (role is "system" or "tool")
        {
            if (text.Length > 0 || type is not ("text" or "multimodal_text" or null))
            {
                notes.Add($"{role} message skipped");
            }

            return null;
        }

        if (role is not ("user" or "assistant"))
        {
            notes.Add($"message skipped (author role {role ?? "missing"})");
            return null;
        }

        if (type is not ("text" or "multimodal_text"))
        {
            notes.Add($"{role} message skipped (content type {type ?? "missing"})");
            return null;
        }

        foreach (var part in skippedParts)
        {
            notes.Add($"{part} part skipped");
        }

        if (text.Length == 0)
        {
            if (skippedParts.Count > 0)
            {
                notes.Add($"{role} message skipped (nothing but those parts)");
            }

            return null;
        }

        return new ImportedTurn(id, null, role == "user" ? MessageRole.User : MessageRole.Assistant, text,
            Time(message, "create_time") ?? conversationCreated ?? DateTimeOffset.UnixEpoch);
    }

    /// <summary>The text parts joined by blank lines, and the kinds of the others (an image's pointer, an audio clip …).</summary>
    private static (string Text, List<string> Skipped) JoinParts(JsonElement content)
    {
        var texts = new List<string>();
        var skipped = new List<string>();
        if (content.TryGetProperty("parts", out var parts) && parts.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in parts.EnumerateArray())
            {
                if (part.ValueKind == JsonValueKind.String)
                {
                    texts.Add(part.GetString()!);
                }
                else
                {
                    skipped.Add(PartKind(part));
                }
            }
        }

        return (StorableText.Clean(string.Join("\n\n", texts.Where(t => t.Length > 0))).Trim(), skipped);
    }

    private static string PartKind(JsonElement part) =>
        (part.ValueKind == JsonValueKind.Object ? ExportNode.Text(part, "content_type") : null) switch
        {
            "image_asset_pointer" => "image",
            { } other => other.Replace('_', ' '),
            null => "non-text",
        };

    /// <summary>A Unix time in seconds (a fraction allowed), or null when absent or not a plausible instant.</summary>
    private static DateTimeOffset? Time(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
        && value.TryGetDouble(out var seconds) && seconds is > 0 and < 253_402_300_799
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000))
            : null;
}
