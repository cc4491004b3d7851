using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Imports;

/// <summary>One message of a conversation being imported: its id there, the kept message it follows (null: first).</summary>
public sealed record ImportedTurn(string Id, string? ParentId, MessageRole Role, string Content, DateTimeOffset CreatedAt);

/// <summary>
/// A conversation read from an export, ready to store: its turns parents first (siblings, the versions of a turn, in
/// their order), the ids on its current path, and what was left out and why (<see cref="Notes"/>). <see cref="Key"/> is
/// what the conversation is called where it came from, so importing it again is seen. A conversation that could not be
/// read at all has a <see cref="Problem"/> instead of turns.
/// </summary>
public sealed record ImportedConversation(
    string? Key, string? Title, DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt, IReadOnlyList<ImportedTurn> Turns,
    IReadOnlySet<string> Path, IReadOnlyList<string> Notes, string? Problem = null)
{
    public static ImportedConversation Unreadable(string? key, string? title, string problem) =>
        new(key, title, null, null, [], new HashSet<string>(), [], problem);
}

/// <summary>What an export was: its format's name and its conversations, in the file's order.</summary>
public sealed record ImportedFile(string Format, IReadOnlyList<ImportedConversation> Conversations);

/// <summary>Counts what was left out of a conversation, by reason, for its report: "2 image parts skipped".</summary>
internal sealed class SkipNotes
{
    private readonly Dictionary<string, int> _counts = [];

    public void Add(string what) => _counts[what] = _counts.GetValueOrDefault(what) + 1;

    public IReadOnlyList<string> ToList() =>
        _counts.Select(c => c.Value == 1 ? $"1 {c.Key}" : $"{c.Value} {Plural(c.Key)}").ToList();

    // "image part skipped" → "image parts skipped": the noun is the word before the first " skipped"/" with".
    private static string Plural(string what)
    {
        var cut = what.IndexOf(" skipped", StringComparison.Ordinal);
        return cut < 0 ? what : what[..cut] + "s" + what[cut..];
    }
}
