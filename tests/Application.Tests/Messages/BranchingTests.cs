using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Messages;

/// <summary>
/// Asking again and switching versions over a chat's tree: the path is moved inside the transaction that queues the
/// new request, before the new question is stored; nothing is deleted; a switch waits for no answer.
/// </summary>
public class BranchingTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private TestPorts _ports = null!;
    private User _alice = null!;
    private Chat _chat = null!;
    private List<MessageNode> _nodes = null!;
    private readonly List<PathChange> _moves = [];

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _alice = _ports.SignIn(new UserBuilder().Named("alice").Build());
        _chat = _ports.Remember(new SessionBuilder().OwnedBy(_alice).Build());
        _nodes = [];
        foreach (var role in new[] { MessageRole.User, MessageRole.Assistant, MessageRole.User, MessageRole.Assistant, MessageRole.User, MessageRole.Assistant })
        {
            _nodes.Add(new MessageNode(MessageId.New(), _nodes.Count == 0 ? null : _nodes[^1].Id, role, true));
        }

        _moves.Clear();
        _ports.Trees.Setup(t => t.GetLockedAsync(_chat.Id, It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => new ConversationTree(_nodes));
        _ports.Trees.Setup(t => t.MoveAsync(_chat.Id, It.IsAny<PathChange>(), It.IsAny<CancellationToken>()))
            .Callback((ChatId _, PathChange change, CancellationToken _) => _moves.Add(change))
            .Returns(Task.CompletedTask);
    }

    [Test]
    public async Task EditingTheSecondQuestion_CutsThePathBeforeIt_ThenStoresTheNewVersionAndAsksIt()
    {
        var asked = await _ports.Asking.AskAgainAsync(_alice, _chat, _nodes[2].Id, PromptText.From("q2, better"), None);

        Assert.That(_moves.Single().Leaving, Is.EqualTo(_nodes[2..].Select(n => n.Id)));
        var question = _ports.StoredMessages.Single();
        Assert.That(question.Content, Is.EqualTo("q2, better"));
        Assert.That(asked.Request.UserMessageId, Is.EqualTo(question.Id));
        _ports.Trees.Verify(t => t.MoveAsync(_chat.Id, It.IsAny<PathChange>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Regenerating_TakesTheLastAnswerOffThePath_AndAsksTheLastQuestionAgain_DeletingNothing()
    {
        var asked = await _ports.Asking.AskAgainAsync(_alice, _chat, null, null, None);

        Assert.That(_moves.Single().Leaving, Is.EqualTo(new[] { _nodes[5].Id }));
        Assert.That(asked.Request.UserMessageId, Is.EqualTo(_nodes[4].Id));
        Assert.That(_ports.StoredMessages, Is.Empty);
    }

    [Test]
    public void EditingAnAnswer_IsRefused_AndQueuesNothing()
    {
        var ex = Assert.ThrowsAsync<DomainException>(() =>
            _ports.Asking.AskAgainAsync(_alice, _chat, _nodes[1].Id, PromptText.From("no"), None));

        Assert.That(ex!.Field, Is.EqualTo("messageId"));
        Assert.That(_moves, Is.Empty);
        Assert.That(_ports.StoredRequests, Is.Empty);
    }

    private SelectVersionHandler Select() => new(_ports.Access, _ports.UnitOfWork.Object, _ports.Sessions.Object,
        _ports.Trees.Object, _ports.Reads.Object, _ports.Clock);

    [Test]
    public async Task SwitchingAVersion_MovesThePath_AndMakesANewVersionOfTheChat()
    {
        _nodes = [.. _nodes.Select((n, i) => i >= 2 ? n with { OnPath = false } : n)];
        var edited = new MessageNode(MessageId.New(), _nodes[1].Id, MessageRole.User, true);
        _nodes.Add(edited);
        _ports.Reads.Setup(r => r.GetMessagesPageAsync(_chat.Id, null, It.IsAny<int>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync([]);

        await Select().Handle(new SelectVersion(_chat.Id.Value, _nodes[2].Id.Value), None);

        Assert.That(_moves.Single().Joining, Is.EqualTo(_nodes[2..6].Select(n => n.Id)));
        Assert.That(_moves.Single().Leaving, Is.EqualTo(new[] { edited.Id }));
        _ports.Sessions.Verify(s => s.UpdateAsync(_chat, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public void SwitchingWhileTheChatIsAnswered_IsRefused_AndMovesNothing()
    {
        _ports.Remember(RelayRequest.Create(_chat.Id, _alice.Id, _nodes[4].Id, SamplingParameters.Default, _ports.Clock.UtcNow));

        Assert.ThrowsAsync<ConflictException>(() => Select().Handle(new SelectVersion(_chat.Id.Value, _nodes[0].Id.Value), None));

        Assert.That(_moves, Is.Empty);
    }

    [Test]
    public void AnotherUsersChat_IsNotFound()
    {
        var bobs = _ports.Remember(new SessionBuilder().OwnedBy(new UserBuilder().Named("bob").Build()).Build());

        Assert.ThrowsAsync<NotFoundException>(() => Select().Handle(new SelectVersion(bobs.Id.Value, Guid.NewGuid()), None));
    }
}
