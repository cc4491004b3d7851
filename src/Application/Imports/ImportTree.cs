namespace MeatLizard.Application.Imports;

/// <summary>
/// A node of an exported conversation's tree: its id, the node it follows, the nodes that follow it (in their order: the
/// versions of the next turn) and the turn it holds, or null when nothing of it is kept (a structural root, a system or
/// tool message, an image alone).
/// </summary>
internal sealed record ExportNode(string Id, string? Parent, IReadOnlyList<string> Children, ImportedTurn? Turn)
{
    /// <summary>A string property of an exported object; null when absent or not a string (a reader never throws on shape).</summary>
    public static string? Text(System.Text.Json.JsonElement element, string name) =>
        element.ValueKind == System.Text.Json.JsonValueKind.Object && element.TryGetProperty(name, out var value)
        && value.ValueKind == System.Text.Json.JsonValueKind.String ? value.GetString() : null;
}

/// <summary>
/// Turns an exported tree into what is stored: kept turns parents first, each following its nearest kept ancestor (so a
/// skipped message's children follow what it followed), and the current path as the kept turns above
/// <c>currentNode</c> (the export's own, or when it names none, the newest version at each turn).
/// </summary>
internal static class ImportTree
{
    public static (IReadOnlyList<ImportedTurn> Turns, IReadOnlySet<string> Path) Flatten(
        IReadOnlyDictionary<string, ExportNode> nodes, string? currentNode)
    {
        var turns = new List<ImportedTurn>();
        var seen = new HashSet<string>();
        var roots = nodes.Values.Where(n => n.Parent is null || !nodes.ContainsKey(n.Parent)).Select(n => n.Id).ToList();
        // Depth first with an explicit stack (an export may be deep); children pushed in reverse come out in order.
        var stack = new Stack<(string Id, string? KeptAncestor)>(roots.AsEnumerable().Reverse().Select(r => (r, (string?)null)));
        while (stack.Count > 0)
        {
            var (id, ancestor) = stack.Pop();
            if (!seen.Add(id) || !nodes.TryGetValue(id, out var node))
            {
                continue; // a node named twice, or a child the mapping lacks
            }

            var kept = ancestor;
            if (node.Turn is { } turn)
            {
                turns.Add(turn with { ParentId = ancestor });
                kept = node.Id;
            }

            foreach (var child in node.Children.Reverse())
            {
                stack.Push((child, kept));
            }
        }

        return (turns, PathOf(turns, nodes, currentNode));
    }

    private static HashSet<string> PathOf(List<ImportedTurn> turns, IReadOnlyDictionary<string, ExportNode> nodes,
        string? currentNode)
    {
        var kept = turns.ToDictionary(t => t.Id);
        var path = new HashSet<string>();
        if (currentNode is not null && nodes.ContainsKey(currentNode))
        {
            // Up from the current node through the export's tree; the first kept node leads up through the kept ones.
            var id = currentNode;
            var guard = new HashSet<string>();
            while (id is not null && !kept.ContainsKey(id) && guard.Add(id) && nodes.TryGetValue(id, out var node))
            {
                id = node.Parent;
            }

            for (var at = id; at is not null && kept.TryGetValue(at, out var turn) && path.Add(at);)
            {
                at = turn.ParentId;
            }

            return path;
        }

        // No current node: the newest version at each turn, from the first.
        var children = turns.ToLookup(t => t.ParentId ?? "");
        for (var next = children[""].LastOrDefault(); next is not null; next = children[next.Id].LastOrDefault())
        {
            path.Add(next.Id);
        }

        return path;
    }
}
