using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

/// <summary>
/// A chat's tree and its current path: an edit cuts the path before the edited question, a regenerate after the last
/// question, and switching shows a version with the newest of what follows it.
/// </summary>
public class ConversationTreeTests
{
    /// <summary>q1 a1 q2 a2 q3 on one path, as stored.</summary>
    private static List<MessageNode> FiveOnOnePath()
    {
        var nodes = new List<MessageNode>();
        foreach (var role in new[] { MessageRole.User, MessageRole.Assistant, MessageRole.User, MessageRole.Assistant, MessageRole.User })
        {
            nodes.Add(new MessageNode(MessageId.New(), nodes.Count == 0 ? null : nodes[^1].Id, role, true));
        }

        return nodes;
    }

    /// <summary>The nodes after <paramref name="change"/> is written.</summary>
    private static List<MessageNode> Apply(List<MessageNode> nodes, PathChange change) =>
        nodes.Select(n => change.Leaving.Contains(n.Id) ? n with { OnPath = false }
            : change.Joining.Contains(n.Id) ? n with { OnPath = true } : n).ToList();

    /// <summary>What the store does with a new message: it continues the current path.</summary>
    private static MessageNode Append(List<MessageNode> nodes, MessageRole role)
    {
        var node = new MessageNode(MessageId.New(), nodes.LastOrDefault(n => n.OnPath)?.Id, role, true);
        nodes.Add(node);
        return node;
    }

    [Test]
    public void EditingTheSecondQuestion_CutsThePathBeforeIt_SoTheNewVersionIsItsSibling()
    {
        var nodes = FiveOnOnePath();

        var change = new ConversationTree(nodes).BranchAt(nodes[2].Id);
        nodes = Apply(nodes, change);
        var edited = Append(nodes, MessageRole.User);

        Assert.That(change.Leaving, Is.EqualTo(nodes[2..5].Select(n => n.Id)));
        Assert.That(change.Joining, Is.Empty);
        var tree = new ConversationTree(nodes);
        Assert.That(tree.Path.Select(n => n.Id), Is.EqualTo(new[] { nodes[0].Id, nodes[1].Id, edited.Id }));
        Assert.That(tree.VersionsOf(edited.Id).Select(n => n.Id), Is.EqualTo(new[] { nodes[2].Id, edited.Id }));
    }

    [Test]
    public void EditingTheFirstQuestion_MakesASecondFirstMessage()
    {
        var nodes = FiveOnOnePath();

        nodes = Apply(nodes, new ConversationTree(nodes).BranchAt(nodes[0].Id));
        var edited = Append(nodes, MessageRole.User);

        Assert.That(edited.ParentId, Is.Null);
        Assert.That(new ConversationTree(nodes).VersionsOf(edited.Id).Select(n => n.Id),
            Is.EqualTo(new[] { nodes[0].Id, edited.Id }));
    }

    [Test]
    public void Regenerating_KeepsTheEarlierAnswersAsSiblings()
    {
        var nodes = FiveOnOnePath();
        var answer = Append(nodes, MessageRole.Assistant);

        var (question, change) = new ConversationTree(nodes).AnswerAgain();
        nodes = Apply(nodes, change);
        var again = Append(nodes, MessageRole.Assistant);

        Assert.That(question, Is.EqualTo(nodes[4].Id));
        Assert.That(change.Leaving, Is.EqualTo(new[] { answer.Id }));
        Assert.That(new ConversationTree(nodes).VersionsOf(again.Id).Select(n => n.Id), Is.EqualTo(new[] { answer.Id, again.Id }));
    }

    [Test]
    public void SwitchingToAVersion_ShowsItAndTheNewestOfWhatFollowsIt_AndBack()
    {
        var nodes = FiveOnOnePath();
        nodes = Apply(nodes, new ConversationTree(nodes).BranchAt(nodes[2].Id));
        var edited = Append(nodes, MessageRole.User);
        var answer = Append(nodes, MessageRole.Assistant);

        nodes = Apply(nodes, new ConversationTree(nodes).SwitchTo(nodes[2].Id));
        Assert.That(new ConversationTree(nodes).Path.Select(n => n.Id), Is.EqualTo(nodes[..5].Select(n => n.Id)));

        var back = new ConversationTree(nodes).SwitchTo(edited.Id);
        Assert.That(back.Leaving, Is.EqualTo(nodes[2..5].Select(n => n.Id)));
        Assert.That(back.Joining, Is.EqualTo(new[] { edited.Id, answer.Id }));
        nodes = Apply(nodes, back);
        Assert.That(new ConversationTree(nodes).Path.Select(n => n.Id), Is.EqualTo(new[] { nodes[0].Id, nodes[1].Id, edited.Id, answer.Id }));
    }

    [Test]
    public void SwitchingToTheVersionShown_ChangesNothing()
    {
        var nodes = FiveOnOnePath();

        Assert.That(new ConversationTree(nodes).SwitchTo(nodes[3].Id).IsEmpty, Is.True);
    }

    [Test]
    public void AnAnswer_OrAQuestionOffThePath_CannotBeEdited()
    {
        var nodes = FiveOnOnePath();
        nodes = Apply(nodes, new ConversationTree(nodes).BranchAt(nodes[2].Id));
        Append(nodes, MessageRole.User);
        var tree = new ConversationTree(nodes);

        Assert.That(Assert.Throws<DomainException>(() => tree.BranchAt(nodes[1].Id))!.Kind, Is.EqualTo(DomainErrorKind.Invalid));
        Assert.That(Assert.Throws<DomainException>(() => tree.BranchAt(nodes[4].Id))!.Field, Is.EqualTo("messageId"));
    }

    [Test]
    public void AMessageOfAnotherChat_IsNotFound()
    {
        var tree = new ConversationTree(FiveOnOnePath());

        Assert.That(Assert.Throws<DomainException>(() => tree.SwitchTo(MessageId.New()))!.Kind, Is.EqualTo(DomainErrorKind.NotFound));
    }

    [Test]
    public void AChatWithNoQuestion_HasNothingToAnswerAgain()
    {
        Assert.That(Assert.Throws<DomainException>(() => new ConversationTree([]).AnswerAgain())!.Kind,
            Is.EqualTo(DomainErrorKind.Conflict));
    }
}
