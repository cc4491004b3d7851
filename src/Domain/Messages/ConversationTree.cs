using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Messages;

/// <summary>
/// One message's place in its chat's tree: the message it follows (null for a chat's first message and the versions
/// of it) and whether it is on the chat's current path, the one conversation the chat shows and the model reads.
/// </summary>
public sealed record MessageNode(MessageId Id, MessageId? ParentId, MessageRole Role, bool OnPath);

/// <summary>What a change of the current path writes: the messages that leave it and those that join it.</summary>
public sealed record PathChange(IReadOnlyList<MessageId> Leaving, IReadOnlyList<MessageId> Joining)
{
    public bool IsEmpty => Leaving.Count == 0 && Joining.Count == 0;
}

/// <summary>
/// A chat's messages as a tree: every message follows its parent, and messages with one parent are versions of one
/// turn (an edited question beside the first one, a regenerated answer beside the earlier ones). The current path runs
/// from a first message down to a leaf; a new message always continues it, so editing or regenerating cuts the path
/// first and the new message becomes a sibling of what was cut. Versions are ordered as they were written.
/// </summary>
public sealed class ConversationTree
{
    private readonly IReadOnlyList<MessageNode> _nodes;
    private readonly Dictionary<MessageId, MessageNode> _byId;
    private readonly ILookup<MessageId?, MessageNode> _children;

    /// <param name="nodesInStoredOrder">Every message of the chat, oldest first (a parent always before its children).</param>
    public ConversationTree(IReadOnlyList<MessageNode> nodesInStoredOrder)
    {
        ArgumentNullException.ThrowIfNull(nodesInStoredOrder);
        _nodes = nodesInStoredOrder;
        _byId = nodesInStoredOrder.ToDictionary(n => n.Id);
        _children = nodesInStoredOrder.ToLookup(n => n.ParentId);
    }

    /// <summary>The current path, oldest first.</summary>
    public IReadOnlyList<MessageNode> Path => _nodes.Where(n => n.OnPath).ToList();

    /// <summary>The versions of <paramref name="id"/>'s turn (it among them), as they were written.</summary>
    public IReadOnlyList<MessageNode> VersionsOf(MessageId id) => _children[Require(id).ParentId].ToList();

    /// <summary>
    /// Shows the version <paramref name="id"/>: the path runs through its parents to it, then on through the newest
    /// version at each turn after it (what was written last below it).
    /// </summary>
    public PathChange SwitchTo(MessageId id)
    {
        var path = Ancestors(Require(id));
        for (var node = _byId[id]; node is not null; node = _children[node.Id].LastOrDefault())
        {
            path.Add(node.Id);
        }

        return ChangeTo(path);
    }

    /// <summary>
    /// Edits the question <paramref name="id"/>: the path is cut before it, so the edited question, written next,
    /// becomes its sibling and what followed the old one stays in the tree as the other branch.
    /// </summary>
    public PathChange BranchAt(MessageId id)
    {
        var node = Require(id);
        if (node.Role != MessageRole.User || !node.OnPath)
        {
            throw new DomainException("Only a question of the conversation shown can be edited.", DomainErrorKind.Invalid,
                "messageId");
        }

        return ChangeTo(Ancestors(node));
    }

    /// <summary>
    /// Asks the path's last question again: what answered it leaves the path (it stays as the earlier version), so
    /// the new answer becomes its sibling. Returns that question.
    /// </summary>
    public (MessageId Question, PathChange Change) AnswerAgain()
    {
        var question = LastQuestion ?? throw new DomainException("This chat has no message to answer again yet.");
        var path = Ancestors(_byId[question]);
        path.Add(question);
        return (question, ChangeTo(path));
    }

    /// <summary>The current path's last question (a user's message); null when it has none.</summary>
    public MessageId? LastQuestion => Path.LastOrDefault(n => n.Role == MessageRole.User)?.Id;

    private MessageNode Require(MessageId id) =>
        _byId.TryGetValue(id, out var node)
            ? node
            : throw new DomainException("There is no message with this id in this chat.", DomainErrorKind.NotFound,
                "messageId");

    /// <summary>The messages above <paramref name="node"/>, oldest first.</summary>
    private List<MessageId> Ancestors(MessageNode node)
    {
        var above = new List<MessageId>();
        for (var parent = node.ParentId; parent is { } id; parent = _byId[id].ParentId)
        {
            above.Add(id);
        }

        above.Reverse();
        return above;
    }

    private PathChange ChangeTo(IReadOnlyCollection<MessageId> path)
    {
        var wanted = path.ToHashSet();
        return new PathChange(
            [.. _nodes.Where(n => n.OnPath && !wanted.Contains(n.Id)).Select(n => n.Id)],
            [.. _nodes.Where(n => !n.OnPath && wanted.Contains(n.Id)).Select(n => n.Id)]);
    }
}
