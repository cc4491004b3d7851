using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Feedback;
using MeatLizard.Application.Feedback.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Feedback;

/// <summary>Taking back the rating of an answer: the chat owner's alone, all of it or only a thumb of one kind.</summary>
public class WithdrawRatingTests
{
    private TestPorts _ports = null!;
    private Mock<IFeedbackStore> _feedback = null!;
    private Chat _chat = null!;
    private readonly Guid _answer = Guid.NewGuid();

    private WithdrawRatingHandler Handler => new(_ports.Access, _feedback.Object);

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _feedback = new Mock<IFeedbackStore>();
        _chat = _ports.Remember(new SessionBuilder().OwnedBy(_ports.SignIn(new UserBuilder().Named("alice").Build())).Build());
        _feedback.Setup(f => f.WithdrawAsync(_chat.Id, new MessageId(_answer), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ChatId _, MessageId _, string? rating, CancellationToken _) => rating != Ratings.Up);
    }

    [Test]
    public async Task Withdraw_ByTheOwner_TakesBackTheRating_OnlyOfTheKindNamed()
    {
        var any = await Handler.Handle(new WithdrawRating(_chat.Id.Value, _answer), CancellationToken.None);
        var up = await Handler.Handle(new WithdrawRating(_chat.Id.Value, _answer, Ratings.Up), CancellationToken.None);

        Assert.That((any, up), Is.EqualTo((true, false)), "the store's answer: whether there was such a rating");
        _feedback.Verify(f => f.WithdrawAsync(_chat.Id, new MessageId(_answer), null, It.IsAny<CancellationToken>()), Times.Once);
        _feedback.Verify(f => f.WithdrawAsync(_chat.Id, new MessageId(_answer), Ratings.Up, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public void Withdraw_InAnotherUsersChat_IsNotFound_AndTouchesNoRating()
    {
        _ports.SignIn(new UserBuilder().Named("mallory").Build());

        Assert.ThrowsAsync<NotFoundException>(() => Handler.Handle(new WithdrawRating(_chat.Id.Value, _answer), CancellationToken.None));
        _feedback.VerifyNoOtherCalls();
    }

    [Test]
    public void Withdraw_IsLimitedAsAnEdit_AndTakesOnlyUpOrDown()
    {
        var validator = new WithdrawRatingValidator();

        Assert.That(new WithdrawRating(Guid.NewGuid(), Guid.NewGuid()).LimitedBy, Is.EqualTo(new[] { RateLimitScope.Edit }));
        Assert.That(validator.Validate(new WithdrawRating(Guid.NewGuid(), Guid.NewGuid(), "meh")).IsValid, Is.False);
        Assert.That(validator.Validate(new WithdrawRating(Guid.NewGuid(), Guid.NewGuid(), Ratings.Down)).IsValid, Is.True);
        Assert.That(validator.Validate(new WithdrawRating(Guid.NewGuid(), Guid.NewGuid())).IsValid, Is.True);
    }
}
