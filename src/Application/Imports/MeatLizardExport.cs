using System.Globalization;
using System.Text.Json;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Imports;

/// <summary>
/// Reads MeatLizard's own exports: the account export (GET /api/v1/auth/export: <c>{account, chats: [{chat,
/// messages}]}</c>) and a chat's transcript (GET /api/v1/sessions/{id}/transcript: <c>{session, messages}</c>), with or
/// without <c>all=true</c>. Each message names its <c>parentId</c>, so the tree comes back as it was; as an export does
/// not say which versions were shown, the current path is the newest version at each turn (all that an export without
/// all=true holds). User and assistant messages are kept; system and tool messages, and notices, are left out (noted).
/// </summary>
public static class MeatLizardExport
{
    public const string Format = "meatlizard";

    public static bool Matches(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object
        && ((root.TryGetProperty("chats", out var chats) && chats.ValueKind == JsonValueKind.Array)
            || (root.TryGetProperty("session", out var s) && s.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("messages", out _)));

    public static ImportedFile Read(JsonElement root)
    {
        var chats = root.TryGetProperty("chats", out var list)
            ? list.EnumerateArray().Select(c => ReadChat(c, "chat"))
            : [ReadChat(root, "session")];
        return new ImportedFile(Format, chats.ToList());
    }

    private static ImportedConversation ReadChat(JsonElement entry, string chatProperty)
    {
        var chat = entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(chatProperty, out var c) ? c : default;
        var id = ExportNode.Text(chat, "id");
        var title = ExportNode.Text(chat, "title");
        var key = id is null ? null : $"{Format}:{id}";
        if (!entry.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return ImportedConversation.Unreadable(key, title, "It has no list of messages.");
        }

        var notes = new SkipNotes();
        var read = new List<(string Id, string? Parent, ImportedTurn? Turn)>();
        var ids = new HashSet<string>();
        foreach (var message in messages.EnumerateArray())
        {
            var messageId = ExportNode.Text(message, "id");
            if (messageId is null || !ids.Add(messageId))
            {
                notes.Add("message skipped (no id, or one seen before)");
                continue;
            }

            read.Add((messageId, ExportNode.Text(message, "parentId"), ReadTurn(messageId, message, notes)));
        }

        // Children in the order the export lists them: a turn's versions oldest first.
        var children = read.Where(m => m.Parent is not null).ToLookup(m => m.Parent!, m => m.Id);
        var nodes = read.ToDictionary(m => m.Id, m => new ExportNode(m.Id, m.Parent, children[m.Id].ToList(), m.Turn));
        var (turns, path) = ImportTree.Flatten(nodes, null);
        return new ImportedConversation(key, title, Instant(chat, "createdAt"), Instant(chat, "updatedAt"), turns, path,
            notes.ToList());
    }

    private static ImportedTurn? ReadTurn(string id, JsonElement message, SkipNotes notes)
    {
        var role = ExportNode.Text(message, "role");
        var source = ExportNode.Text(message, "source");
        var content = StorableText.Clean(ExportNode.Text(message, "content") ?? "").Trim();
        if (role is not ("user" or "assistant") || source == "notice")
        {
            notes.Add($"{(source == "notice" ? "notice" : role ?? "unknown")} message skipped");
            return null;
        }

        if (content.Length == 0)
        {
            notes.Add($"{role} message skipped (empty)");
            return null;
        }

        return new ImportedTurn(id, null, role == "user" ? MessageRole.User : MessageRole.Assistant, content,
            Instant(message, "createdAt") ?? DateTimeOffset.UnixEpoch);
    }

    private static DateTimeOffset? Instant(JsonElement element, string name) =>
        DateTimeOffset.TryParse(ExportNode.Text(element, name), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at : null;
}
