using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Messages;

public class SendMessageHandlerTests
{
    private TestPorts _ports = null!;
    private User _alice = null!;
    private ChatSession _session = null!;

    private SendMessageHandler Handler => new(_ports.Access, _ports.RateLimiter.Object, _ports.CurrentUser.Object,
        _ports.UnitOfWork.Object, _ports.Sessions.Object, _ports.Messages.Object, _ports.Requests.Object,
        _ports.QueueSignal.Object, _ports.Events.Object, _ports.Clock);

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _ports.CurrentUser.Setup(c => c.ClientIp).Returns("203.0.113.7");
        _alice = _ports.SignIn(new UserBuilder().Named("alice").Build());
        _session = _ports.Remember(new SessionBuilder().OwnedBy(_alice)
            .WithSampling(SamplingParameters.Create(temperature: 1.2, maxTokens: 300)).Build());
    }

    private Task<SendMessageResult> Send(string? content = "Hello", Guid? sessionId = null, double? temperature = null) =>
        Handler.Handle(new SendMessage(sessionId ?? _session.Id.Value, content, Temperature: temperature),
            CancellationToken.None);

    private void AssertNothingStored()
    {
        _ports.Messages.Verify(m => m.AddAsync(It.IsAny<Message>(), It.IsAny<CancellationToken>()), Times.Never);
        _ports.Requests.Verify(r => r.AddAsync(It.IsAny<RelayRequest>(), It.IsAny<CancellationToken>()), Times.Never);
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Never);
    }

    [Test]
    public async Task Send_StoresTheMessageAndAPendingRequestInOneTransaction_ThenWakesTheDispatcher()
    {
        _ports.QueueSignal.Setup(q => q.NotifyPending()).Callback(() =>
            Assert.That(_ports.Journal, Does.Contain("commit"), "the dispatcher is woken only after the commit"));

        var result = await Send("Hello", temperature: 0.3);

        Assert.That(_ports.Journal, Is.EqualTo(new[]
        {
            "begin", "add message:User (tx)", "add request:Pending (tx)", "update session (tx)", "commit",
        }));
        var message = _ports.StoredMessages.Single();
        var request = _ports.StoredRequests.Single();
        Assert.That(result, Is.EqualTo(new SendMessageResult(message.Id.Value, request.Id.Value)));
        Assert.That(message.Content, Is.EqualTo("Hello"));
        Assert.That(message.SessionId, Is.EqualTo(_session.Id));
        Assert.That(request.UserMessageId, Is.EqualTo(message.Id));
        Assert.That(request.UserId, Is.EqualTo(_alice.Id));
        Assert.That(request.Sampling, Is.EqualTo(SamplingParameters.Create(0.3, null, 300)),
            "the message's settings win, the chat's fill the gaps");
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Once);
        Assert.That(_ports.Published, Is.EqualTo(new[]
        {
            new ChatEvent(ChatEventTypes.Status, _session.Id.Value, request.Id.Value, Status: "queued"),
        }));
    }

    [Test]
    public void Send_WhenUserRateLimited_IsRejected_AndNothingIsStored()
    {
        _ports.RateLimiter.Setup(r => r.TryAcquireAsync(RateLimitScope.User, _alice.Id.ToString(),
            It.IsAny<CancellationToken>())).ReturnsAsync(new RateLimitDecision(false, TimeSpan.FromSeconds(12)));

        var ex = Assert.ThrowsAsync<RateLimitedException>(() => Send());

        Assert.That(ex!.Scope, Is.EqualTo("user"));
        Assert.That(ex.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(12)));
        AssertNothingStored();
        Assert.That(_ports.Journal, Is.EqualTo(new[] { "begin", "rollback" }),
            "checked inside the transaction that reads the chat, which then stores nothing");
    }

    [Test]
    public void Send_WhenIpRateLimited_IsRejected_AndNothingIsStored()
    {
        _ports.RateLimiter.Setup(r => r.TryAcquireAsync(RateLimitScope.Ip, "203.0.113.7",
            It.IsAny<CancellationToken>())).ReturnsAsync(new RateLimitDecision(false, TimeSpan.FromSeconds(1)));

        Assert.That(async () => await Send(),
            Throws.TypeOf<RateLimitedException>().With.Property(nameof(RateLimitedException.Scope)).EqualTo("ip"));
        AssertNothingStored();
    }

    [Test]
    public void Send_WhenSessionClosed_IsRejectedAsConflict_AndNothingIsStored()
    {
        var closed = _ports.Remember(new SessionBuilder().OwnedBy(_alice).Closed().Build());

        Assert.That(async () => await Send(sessionId: closed.Id.Value), Refused.As(DomainErrorKind.Conflict));
        AssertNothingStored();
    }

    [Test]
    public void Send_ToAnotherUsersSession_IsNotFound_AndNothingIsStored()
    {
        var bobs = _ports.Remember(new SessionBuilder().OwnedBy(new UserBuilder().Named("bob").Build()).Build());

        Assert.That(async () => await Send(sessionId: bobs.Id.Value), Throws.TypeOf<NotFoundException>());
        AssertNothingStored();
    }

    [Test]
    public void Send_ToAnUnknownSession_IsNotFound() =>
        Assert.That(async () => await Send(sessionId: Guid.NewGuid()), Throws.TypeOf<NotFoundException>());

    [Test]
    public void Send_WhileAnAnswerIsStillBeingGenerated_IsConflict_AndNothingIsStored()
    {
        _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).Streaming().Build());

        Assert.That(async () => await Send(), Throws.TypeOf<ConflictException>());
        Assert.That(_ports.Journal, Is.EqualTo(new[] { "begin", "rollback" }));
        Assert.That(_ports.StoredMessages, Is.Empty);
        Assert.That(_ports.StoredRequests, Has.Count.EqualTo(1));
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Never);
        Assert.That(_ports.Published, Is.Empty);
    }

    [Test]
    public async Task Send_AfterThePreviousAnswerFinished_IsAccepted()
    {
        _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).In(RelayRequestStatus.Completed).Build());

        await Send();

        Assert.That(_ports.StoredMessages, Has.Count.EqualTo(1));
    }

    [Test]
    public void Send_ByABannedUser_IsForbidden_AndNothingIsStored()
    {
        var banned = _ports.SignIn(new UserBuilder().Named("carol").Banned().Build());
        var own = _ports.Remember(new SessionBuilder().OwnedBy(banned).Build());

        Assert.That(async () => await Send(sessionId: own.Id.Value), Refused.As(DomainErrorKind.Forbidden));
        AssertNothingStored();
    }

    [Test]
    public void Send_WhenNotSignedIn_IsUnauthenticated()
    {
        _ports.CurrentUser.Setup(c => c.Id).Returns((UserId?)null);

        Assert.That(async () => await Send(), Throws.TypeOf<UnauthenticatedException>());
        AssertNothingStored();
    }

    [Test]
    public void Send_TooLongText_IsTooLarge_AndNothingIsStored()
    {
        Assert.That(async () => await Send(new string('x', PromptText.MaxLength + 1)),
            Refused.As(DomainErrorKind.TooLarge, "content"));
        AssertNothingStored();
    }

    [Test]
    public void Send_WithOutOfRangeSampling_IsInvalid_AndNothingIsStored()
    {
        Assert.That(async () => await Send(temperature: 3), Refused.As(DomainErrorKind.Invalid, "temperature"));
        AssertNothingStored();
    }
}
