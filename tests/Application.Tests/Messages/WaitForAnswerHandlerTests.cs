using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Messages;

public class WaitForAnswerHandlerTests
{
    private TestPorts _ports = null!;
    private User _alice = null!;
    private Chat _session = null!;

    private WaitForAnswerHandler Handler => new(_ports.CurrentUser.Object, _ports.Events.Object, _ports.Requests.Object,
        new AnswerFollower(_ports.Requests.Object, _ports.Messages.Object, new NoAnswerPieces(), Options.Create(_ports.RelayOptions)));

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _alice = _ports.SignIn(new UserBuilder().Named("alice").Build());
        _session = _ports.Remember(new SessionBuilder().OwnedBy(_alice).Build());
        var subscription = new Mock<IChatEventSubscription>();
        subscription.Setup(s => s.ReadAllAsync(It.IsAny<CancellationToken>())).Returns(NoEvents);
        _ports.Events.Setup(e => e.SubscribeAsync(It.IsAny<Guid>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(subscription.Object);
    }

    private static async IAsyncEnumerable<ChatEvent> NoEvents([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        yield break;
    }

    [Test]
    public async Task AnsweredRequest_ReturnsTheStoredAnswer_WithoutWaiting()
    {
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).ForUser(_alice.Id).Streaming().Build());
        var answer = _ports.Remember(Message.Answer(_session.Id, request.Id, "Forty-two.", MessageSource.Model, null, Moments.At(4)));
        request.Complete(answer.Id, Moments.At(4));

        var dto = await Handler.Handle(new WaitForAnswer(_session.Id.Value, request.Id.Value), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(dto.Id, Is.EqualTo(answer.Id.Value));
        Assert.That(dto.Content, Is.EqualTo("Forty-two."));
    }

    [Test]
    public async Task AnAnswerWhoseEventNeverCame_IsReturnedAtTheNextRecheck()
    {
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).ForUser(_alice.Id).Streaming().Build());
        var answer = _ports.Remember(Message.Answer(_session.Id, request.Id, "Stored quietly.", MessageSource.Model, null, Moments.At(4)));

        var waiting = Handler.Handle(new WaitForAnswer(_session.Id.Value, request.Id.Value), CancellationToken.None);
        await Task.Delay(200);
        Assert.That(waiting.IsCompleted, Is.False, "nothing answered yet");
        request.Complete(answer.Id, Moments.At(4)); // stored, but no event is published (the bus was down)

        var dto = await waiting.WaitAsync(AnswerFollower.RecheckInterval + TimeSpan.FromSeconds(3));
        Assert.That(dto.Content, Is.EqualTo("Stored quietly."));
    }

    [Test]
    public void AnotherUsersRequest_IsNotFound()
    {
        var bob = _ports.Remember(new UserBuilder().Named("bob").Build());
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).ForUser(bob.Id).Streaming().Build());

        Assert.ThrowsAsync<NotFoundException>(() =>
            Handler.Handle(new WaitForAnswer(_session.Id.Value, request.Id.Value), CancellationToken.None));
    }

    [Test]
    public void RequestNamedWithTheWrongSession_IsNotFound()
    {
        var request = _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).ForUser(_alice.Id).Streaming().Build());

        Assert.ThrowsAsync<NotFoundException>(() =>
            Handler.Handle(new WaitForAnswer(Guid.NewGuid(), request.Id.Value), CancellationToken.None));
    }

    [Test]
    public void SignedOut_IsUnauthenticated()
    {
        _ports.CurrentUser.Setup(c => c.Id).Returns((Domain.Common.UserId?)null);

        Assert.ThrowsAsync<UnauthenticatedException>(() =>
            Handler.Handle(new WaitForAnswer(_session.Id.Value, Guid.NewGuid()), CancellationToken.None));
    }
}
