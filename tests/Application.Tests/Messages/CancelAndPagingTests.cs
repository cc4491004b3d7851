using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Relay;
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

public class CancelGenerationHandlerTests
{
    private TestPorts _ports = null!;
    private User _alice = null!;
    private Chat _session = null!;

    private CancelGenerationHandler Handler => new(_ports.Access, _ports.RelayControl);

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _alice = _ports.SignIn(new UserBuilder().Named("alice").Build());
        _session = _ports.Remember(new SessionBuilder().OwnedBy(_alice).Build());
        _ports.Clock.Set(5);
    }

    [Test]
    public async Task Cancel_WhileStreaming_KeepsWhatWasProduced_AndTellsTheWorkerToStop()
    {
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).Streaming().Build());
        _ports.Streams.Append(request.Id.Value, 1, "Once upon");

        var result = await Handler.Handle(new CancelGeneration(_session.Id.Value), CancellationToken.None);

        Assert.That(result, Is.EqualTo(new CancelResult(true, request.Id.Value)));
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        var kept = _ports.StoredMessages.Single();
        Assert.That(kept.Content, Is.EqualTo("Once upon"));
        Assert.That(kept.Source, Is.EqualTo(MessageSource.Model));
        Assert.That(request.AnswerMessageId, Is.EqualTo(kept.Id));
        Assert.That(_ports.Journal, Is.EqualTo(new[]
        {
            "update request:Cancelled with answer:Model", "send:Cancel",
        }));
        var cancel = _ports.EnvelopesSentToWorkers.Single();
        Assert.That(cancel.RequestId, Is.EqualTo(request.Id.Value));
        Assert.That(cancel.Seq, Is.GreaterThan(request.LastSeq));
        Assert.That(_ports.SentToWorkers.Single().ChatId, Is.EqualTo(_session.Id.Value));
        Assert.That(_ports.Published.Select(e => (e.Type, e.Status)), Is.EqualTo(new[]
        {
            (ChatEventTypes.Status, (string?)"cancelled"), (ChatEventTypes.Message, null),
        }));
        Assert.That(_ports.PublishedUnits, Has.Count.EqualTo(1), "the status and the kept answer in one publish");
        Assert.That(_ports.Streams.Peek(request.Id.Value), Is.Null, "the stream buffer is released");
    }

    [Test]
    public async Task Cancel_OfAnAnswerStreamedThroughAnotherProcess_KeepsWhatEveryProcessKeptOfIt()
    {
        // The host is connected to another API instance: its pieces reached this one only as every instance keeps them.
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).Streaming().Build());
        _ports.AnswerPieces.Keep(request.Id.Value, [(2, " upon"), (1, "Once"), (3, " a time")]);

        await Handler.Handle(new CancelGeneration(_session.Id.Value), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        var kept = _ports.StoredMessages.Single();
        Assert.That(kept.Content, Is.EqualTo("Once upon a time"), "every piece, in order");
        Assert.That(request.AnswerMessageId, Is.EqualTo(kept.Id));
    }

    [Test]
    public async Task Cancel_BeforeAnythingWasProduced_StoresNoMessage()
    {
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).Dispatched().Build());

        await Handler.Handle(new CancelGeneration(_session.Id.Value), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        Assert.That(request.AnswerMessageId, Is.Null);
        Assert.That(_ports.StoredMessages, Is.Empty);
        Assert.That(_ports.EnvelopesSentToWorkers.Select(e => e.Type), Is.EqualTo(new[] { EnvelopeType.Cancel }));
    }

    [Test]
    public async Task Cancel_APendingRequest_SendsNothingToWorkers()
    {
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).Build());

        await Handler.Handle(new CancelGeneration(_session.Id.Value), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        Assert.That(_ports.SentToWorkers, Is.Empty);
    }

    [Test]
    public async Task Cancel_WithNothingRunning_ReportsNothingCancelled()
    {
        _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).In(RelayRequestStatus.Completed).Build());

        var result = await Handler.Handle(new CancelGeneration(_session.Id.Value), CancellationToken.None);

        Assert.That(result, Is.EqualTo(new CancelResult(false, null)));
        Assert.That(_ports.Journal, Is.Empty);
        Assert.That(_ports.Published, Is.Empty);
    }

    [Test]
    public void Cancel_InAnotherUsersSession_IsNotFound_AndCancelsNothing()
    {
        var bobs = _ports.Remember(new SessionBuilder().OwnedBy(new UserBuilder().Named("bob").Build()).Build());
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(bobs.Id).Streaming().Build());

        Assert.That(async () => await Handler.Handle(new CancelGeneration(bobs.Id.Value), CancellationToken.None),
            Throws.TypeOf<NotFoundException>());
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Streaming));
    }
}

public class GetMessagesHandlerTests
{
    private TestPorts _ports = null!;
    private Chat _session = null!;

    private GetMessagesHandler Handler => new(_ports.Access, _ports.Reads.Object);

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        var alice = _ports.SignIn(new UserBuilder().Named("alice").Build());
        _session = _ports.Remember(new SessionBuilder().OwnedBy(alice).Build());
    }

    private static MessageDto Dto(int n) =>
        new(Guid.NewGuid(), Guid.Empty, "user", $"m{n}", "user", Moments.At(n), null, null);

    private void ReadModelReturns(MessageId? before, int limit, params MessageDto[] page) =>
        _ports.Reads.Setup(r => r.GetMessagesPageAsync(_session.Id, before, limit, It.IsAny<CancellationToken>()))
            .ReturnsAsync(page);

    [Test]
    public async Task Page_WithOlderMessagesLeft_HasMore_AndPointsBeforeItsOldestMessage()
    {
        var messages = Enumerable.Range(1, 4).Select(Dto).ToArray(); // oldest first; one more than asked for
        ReadModelReturns(null, 4, messages);

        var page = await Handler.Handle(new GetMessages(_session.Id.Value, null, 3), CancellationToken.None);

        Assert.That(page.Messages.Select(m => m.Content), Is.EqualTo(new[] { "m2", "m3", "m4" }));
        Assert.That(page.HasMore, Is.True);
        Assert.That(page.NextBefore, Is.EqualTo(messages[1].Id));
    }

    [Test]
    public async Task Page_WithNothingOlder_HasNoMore()
    {
        var messages = Enumerable.Range(1, 3).Select(Dto).ToArray();
        ReadModelReturns(null, 4, messages);

        var page = await Handler.Handle(new GetMessages(_session.Id.Value, null, 3), CancellationToken.None);

        Assert.That(page.Messages, Is.EqualTo(messages));
        Assert.That(page.HasMore, Is.False);
        Assert.That(page.NextBefore, Is.Null);
    }

    [Test]
    public async Task Page_Before_AsksTheReadModelForMessagesBeforeThatOne()
    {
        var before = Guid.NewGuid();
        ReadModelReturns(new MessageId(before), 51, Dto(1));

        var page = await Handler.Handle(new GetMessages(_session.Id.Value, before), CancellationToken.None);

        Assert.That(page.Messages.Single().Content, Is.EqualTo("m1"));
        Assert.That(page.HasMore, Is.False);
    }

    [Test]
    public async Task Page_EmptySession_IsEmpty()
    {
        ReadModelReturns(null, 51);

        var page = await Handler.Handle(new GetMessages(_session.Id.Value, null), CancellationToken.None);

        Assert.That(page, Is.EqualTo(new MessagePage(page.Messages, false, null)));
        Assert.That(page.Messages, Is.Empty);
    }

    [Test]
    public void Page_OfAnotherUsersSession_IsNotFound()
    {
        var bobs = _ports.Remember(new SessionBuilder().OwnedBy(new UserBuilder().Named("bob").Build()).Build());

        Assert.That(async () => await Handler.Handle(new GetMessages(bobs.Id.Value, null), CancellationToken.None),
            Throws.TypeOf<NotFoundException>());
        _ports.Reads.Verify(r => r.GetMessagesPageAsync(It.IsAny<ChatId>(), It.IsAny<MessageId?>(), It.IsAny<int>(),
            It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task Page_AdminMayReadAnyonesSession()
    {
        _ports.SignIn(new UserBuilder().Named("root").Admin().Build());
        ReadModelReturns(null, 51, Dto(1));

        var page = await Handler.Handle(new GetMessages(_session.Id.Value, null), CancellationToken.None);

        Assert.That(page.Messages, Has.Count.EqualTo(1));
    }
}
