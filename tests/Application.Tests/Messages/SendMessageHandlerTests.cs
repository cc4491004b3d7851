using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.OpenAi;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Messages;

public class SendMessageHandlerTests
{
    private TestPorts _ports = null!;
    private User _alice = null!;
    private Chat _session = null!;

    private KnownChats _known = null!;

    private SendMessageHandler Handler => new(_ports.Access, _ports.Asking, new QuestionImages(
        new ChatImages(_ports.ObjectStore.Object),
        new ModelCatalog(_ports.Models, _ports.Relay<HostsOnline>(), _ports.Relay<ModelHosts>()),
        Options.Create(new OpenAiOptions())));

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _known = _ports.KnownChats;
        _ports.CurrentUser.Setup(c => c.ClientIp).Returns("203.0.113.7");
        _alice = _ports.SignIn(new UserBuilder().Named("alice").Build());
        _session = _ports.Remember(new SessionBuilder().OwnedBy(_alice)
            .WithSampling(SamplingParameters.Create(temperature: 1.2, maxTokens: 300)).Build());
    }

    /// <summary>A send as the mediator runs it: behind the rate-limit behaviour, which takes and gives back its tokens.</summary>
    private Task<SendMessageResult> Send(string? content = "Hello", Guid? chatId = null, double? temperature = null,
        IReadOnlyList<string?>? images = null) =>
        _ports.RateLimited(new SendMessage(chatId ?? _session.Id.Value, content, Temperature: temperature, Images: images),
            send => Handler.Handle(send, CancellationToken.None));

    private void AssertNothingStored()
    {
        Assert.That(_ports.StoredMessages, Is.Empty);
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Never);
    }

    private int ChatReads => _ports.Sessions.Invocations.Count(i => i.Method.Name == nameof(IChatRepository.GetWithAnswerStateAsync));

    private void VerifyTokensGivenBack(int times) => _ports.RateLimiter.Verify(r => r.GiveBackAsync(RateLimitScope.User,
        _alice.Id.ToString(), It.IsAny<CancellationToken>()), Times.Exactly(times));

    private void FinishAnswers()
    {
        foreach (var request in _ports.StoredRequests.Where(r => !r.IsFinished))
        {
            request.Cancel(_ports.Clock.UtcNow);
        }
    }

    [Test]
    public async Task Send_QueuesTheMessageAndAPendingRequestInOneConditionalWrite_ThenWakesTheDispatcher()
    {
        _ports.QueueSignal.Setup(q => q.NotifyPending()).Callback(() =>
            Assert.That(_ports.Journal, Does.Contain("queue message:User request:Pending"),
                "the dispatcher is woken only once the request is stored"));

        var result = await Send("Hello", temperature: 0.3);

        Assert.That(_ports.Journal, Is.EqualTo(new[] { "queue message:User request:Pending" }));
        Assert.That(ChatReads, Is.EqualTo(1));
        var message = _ports.StoredMessages.Single();
        var request = _ports.StoredRequests.Single();
        Assert.That(result, Is.EqualTo(new SendMessageResult(message.Id.Value, request.Id.Value)));
        Assert.That(message.Content, Is.EqualTo("Hello"));
        Assert.That(message.ChatId, Is.EqualTo(_session.Id));
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
    public void Send_WithAnImageThatIsNoImage_IsRefusedNamingIt_AndNothingIsStoredOrKept()
    {
        var refused = Assert.ThrowsAsync<DomainException>(() =>
            Send("What is this?", images: ["data:image/png;base64,aGVsbG8="]));

        Assert.That(refused!.Field, Is.EqualTo("images[0]"));
        AssertNothingStored();
        _ports.ObjectStore.VerifyNoOtherCalls();
        VerifyTokensGivenBack(1);
    }

    [Test]
    public void Send_WithImages_WhenNoHostOnlineTakesImages_IsRefusedNamingTheFirst_AndNothingIsStoredOrKept()
    {
        var gif = "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==";

        var refused = Assert.ThrowsAsync<DomainException>(() => Send("What is this?", images: [gif, gif]));

        Assert.That(refused!.Field, Is.EqualTo("images[0]"));
        Assert.That(refused.Message, Does.Contain("does not take images"));
        AssertNothingStored();
        _ports.ObjectStore.VerifyNoOtherCalls();
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
        Assert.That(_ports.Journal, Is.Empty, "checked before anything is written");
        VerifyTokensGivenBack(0);
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

        Assert.That(async () => await Send(chatId: closed.Id.Value), Refused.As(DomainErrorKind.Conflict));
        AssertNothingStored();
    }

    [Test]
    public void Send_ToAnotherUsersSession_IsNotFound_AndNothingIsStored()
    {
        var bobs = _ports.Remember(new SessionBuilder().OwnedBy(new UserBuilder().Named("bob").Build()).Build());

        Assert.That(async () => await Send(chatId: bobs.Id.Value), Throws.TypeOf<NotFoundException>());
        AssertNothingStored();
    }

    [Test]
    public void Send_ToAnUnknownSession_IsNotFound() =>
        Assert.That(async () => await Send(chatId: Guid.NewGuid()), Throws.TypeOf<NotFoundException>());

    [Test]
    public void Send_WhileAnAnswerIsStillBeingGenerated_IsConflict_AndNothingIsStored()
    {
        _ports.Remember(new RelayRequestBuilder().ForSession(_session.Id).Streaming().Build());

        Assert.That(async () => await Send(), Throws.TypeOf<ConflictException>());
        Assert.That(_ports.Journal, Is.Empty);
        Assert.That(_ports.StoredMessages, Is.Empty);
        VerifyTokensGivenBack(1); // the refused send costs nothing
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
    public async Task Send_InAChatThisProcessQueuedIn_QueuesWithoutReadingTheChatAgain()
    {
        await Send("first");
        FinishAnswers();

        await Send("second");

        Assert.That(ChatReads, Is.EqualTo(1), "the second message used the chat as the first one stored it");
        Assert.That(_ports.StoredMessages.Select(m => m.Content), Is.EqualTo(new[] { "first", "second" }));
        Assert.That(_ports.StoredRequests, Has.Count.EqualTo(2));
    }

    [Test]
    public async Task Send_InAKnownChatChangedElsewhere_ReadsItAgain_AndQueues()
    {
        await Send("first");
        FinishAnswers();
        _ports.ChangedElsewhere(_session.Id);

        await Send("second");

        Assert.That(_ports.Journal, Is.EqualTo(new[]
        {
            "queue message:User request:Pending", "queue refused", "queue message:User request:Pending",
        }));
        Assert.That(ChatReads, Is.EqualTo(2));
        Assert.That(_ports.StoredMessages, Has.Count.EqualTo(2));
        _ports.RateLimiter.Verify(r => r.TryAcquireAsync(RateLimitScope.User, _alice.Id.ToString(),
            It.IsAny<CancellationToken>()), Times.Exactly(2), "one token per message, not per attempt");
        VerifyTokensGivenBack(0);
    }

    [Test]
    public async Task Send_InAKnownChatStillBeingAnswered_IsConflict_AndItsTokenIsGivenBack()
    {
        await Send("first");

        Assert.That(async () => await Send("second"), Throws.TypeOf<ConflictException>());

        Assert.That(_ports.StoredMessages.Select(m => m.Content), Is.EqualTo(new[] { "first" }));
        Assert.That(_ports.StoredRequests, Has.Count.EqualTo(1));
        VerifyTokensGivenBack(1);
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Once);
    }

    [Test]
    public void Send_WhenTheChatChangesUnderEveryAttempt_GivesUp_WithAConflict_AndGivesItsTokenBack()
    {
        _ports.Sessions.Setup(s => s.GetWithAnswerStateAsync(_session.Id, It.IsAny<CancellationToken>()))
            .ReturnsAsync(() =>
            {
                var read = new ChatAnswerState(_session, false, _ports.SessionVersion(_session.Id));
                _ports.ChangedElsewhere(_session.Id); // another writer gets in after every read
                return read;
            });

        Assert.That(async () => await Send(), Throws.TypeOf<ConflictException>()
            .With.Message.Contains("changed while the message was being sent"));

        Assert.That(ChatReads, Is.EqualTo(Asking.Attempts));
        AssertNothingStored();
        VerifyTokensGivenBack(1);
    }

    [Test]
    public async Task Send_InAKnownChatClosedSince_IsRefusedOnAFreshRead()
    {
        await Send("first");
        FinishAnswers();
        _session.Close(_alice, _ports.Clock.UtcNow);
        _ports.ChangedElsewhere(_session.Id);

        Assert.That(async () => await Send("second"), Refused.As(DomainErrorKind.Conflict));

        Assert.That(ChatReads, Is.EqualTo(2));
        Assert.That(_ports.StoredMessages, Has.Count.EqualTo(1));
        VerifyTokensGivenBack(1);
    }

    [Test]
    public void Send_ByABannedUser_IsForbidden_AndNothingIsStored()
    {
        var banned = _ports.SignIn(new UserBuilder().Named("carol").Banned().Build());
        var own = _ports.Remember(new SessionBuilder().OwnedBy(banned).Build());

        Assert.That(async () => await Send(chatId: own.Id.Value), Refused.As(DomainErrorKind.Forbidden));
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

    [Test]
    public void AFullModelQueue_RefusesTheMessage_With503AndRetryAfter_StoringNothing()
    {
        _ports.RelayOptions.MaxQueuePerModel = 3;
        _ports.Reads.Setup(r => r.CountWaitingForModelAsync("default", true, It.IsAny<CancellationToken>())).ReturnsAsync(3);

        var refused = Assert.ThrowsAsync<ServiceUnavailableException>(() =>
            Handler.Handle(new SendMessage(_session.Id.Value, "Hello?"), CancellationToken.None));

        Assert.That(refused!.RetryAfter, Is.EqualTo(QuestionQueue.FullQueueRetryAfter));
        Assert.That(refused.Message, Does.Contain("'default'"));
        _ports.Requests.Verify(r => r.TryQueueAsync(It.IsAny<Chat>(), It.IsAny<string>(), It.IsAny<Message>(),
            It.IsAny<RelayRequest>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task RoomInTheModelQueue_SendsAsAlways()
    {
        _ports.RelayOptions.MaxQueuePerModel = 3;
        _ports.Reads.Setup(r => r.CountWaitingForModelAsync("default", true, It.IsAny<CancellationToken>())).ReturnsAsync(2);

        var sent = await Handler.Handle(new SendMessage(_session.Id.Value, "Hello?"), CancellationToken.None);

        Assert.That(sent.RequestId, Is.Not.EqualTo(Guid.Empty));
    }
}
