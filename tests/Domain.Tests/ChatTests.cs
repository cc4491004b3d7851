using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

public class ChatTests
{
    [Test]
    public void Start_WithNothingChosen_UsesTheOwnersPreferencesAndDefaults()
    {
        var owner = new UserBuilder().Preferring("llama-3.1-8b", "Be brief.").Build();

        var chat = Chat.Start(owner, null, null, null, null, Moments.T0);

        Assert.That(chat.OwnerId, Is.EqualTo(owner.Id));
        Assert.That(chat.Title, Is.EqualTo(ChatTitle.Default));
        Assert.That(chat.Model, Is.EqualTo(ModelName.From("llama-3.1-8b")));
        Assert.That(chat.SystemPrompt, Is.EqualTo(SystemPrompt.FromOptional("Be brief.")));
        Assert.That(chat.Sampling, Is.EqualTo(SamplingParameters.Default));
        Assert.That(chat.Status, Is.EqualTo(ChatStatus.Active));
        Assert.That(chat.CreatedAt, Is.EqualTo(Moments.T0));
        Assert.That(chat.UpdatedAt, Is.EqualTo(Moments.T0));
        Assert.That(chat.ClosedAt, Is.Null);
    }

    [Test]
    public void Start_ExplicitChoices_WinOverPreferences()
    {
        var owner = new UserBuilder().Preferring("preferred", "Preferred persona.").Build();
        var sampling = SamplingParameters.Create(0.3, 0.8, 256);

        var chat = Chat.Start(owner, ChatTitle.From("Mine"), ModelName.From("chosen"),
            SystemPrompt.FromOptional("Chosen persona."), sampling, Moments.T0);

        Assert.That(chat.Title.Value, Is.EqualTo("Mine"));
        Assert.That(chat.Model!.Value, Is.EqualTo("chosen"));
        Assert.That(chat.SystemPrompt!.Value, Is.EqualTo("Chosen persona."));
        Assert.That(chat.Sampling, Is.EqualTo(sampling));
    }

    [Test]
    public void Start_OwnerWithoutPreferences_LeavesModelAndPromptToThePlatform()
    {
        var chat = Chat.Start(new UserBuilder().Build(), null, null, null, null, Moments.T0);

        Assert.That(chat.Model, Is.Null);
        Assert.That(chat.SystemPrompt, Is.Null);
    }

    [Test]
    public void IsVisibleTo_OwnerAndAdmin_ButNotOthers()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).Build();

        Assert.That(chat.IsVisibleTo(owner), Is.True);
        Assert.That(chat.IsVisibleTo(new UserBuilder().Named("admin").Admin().Build()), Is.True);
        Assert.That(chat.IsVisibleTo(new UserBuilder().Named("mallory").Build()), Is.False);
    }

    [Test]
    public void EnsureAccessibleBy_OtherUser_IsNotFound_NotForbidden() =>
        Assert.That(() => new SessionBuilder().Build().EnsureAccessibleBy(new UserBuilder().Named("mallory").Build()),
            Refused.As(DomainErrorKind.NotFound));

    [Test]
    public void EnsureAccessibleBy_Admin_Passes() =>
        Assert.That(() => new SessionBuilder().Build().EnsureAccessibleBy(new UserBuilder().Admin().Build()),
            Throws.Nothing);

    [Test]
    public void PostUserMessage_ActiveSession_ReturnsTheUsersMessage()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).Build();

        var message = chat.PostUserMessage(owner, PromptText.From("Hello"), Moments.At(5));

        Assert.That(message.ChatId, Is.EqualTo(chat.Id));
        Assert.That(message.Role, Is.EqualTo(MessageRole.User));
        Assert.That(message.Source, Is.EqualTo(MessageSource.User));
        Assert.That(message.Content, Is.EqualTo("Hello"));
        Assert.That(message.CreatedAt, Is.EqualTo(Moments.At(5)));
        Assert.That(message.RequestId, Is.Null);
        Assert.That(chat.UpdatedAt, Is.EqualTo(Moments.At(5)));
    }

    [Test]
    public void PostUserMessage_NamesAChatStillUnderTheDefaultTitle_AndNoOther()
    {
        var owner = new UserBuilder().Build();
        var untitled = new SessionBuilder().OwnedBy(owner).Titled(ChatTitle.Default.Value).Build();
        var named = new SessionBuilder().OwnedBy(owner).Titled("Trip plans").Build();

        untitled.PostUserMessage(owner, PromptText.From("  Where do\nlizards sleep?  "), Moments.At(5));
        untitled.PostUserMessage(owner, PromptText.From("And in winter?"), Moments.At(6));
        named.PostUserMessage(owner, PromptText.From("Where do lizards sleep?"), Moments.At(5));

        Assert.That(untitled.Title.Value, Is.EqualTo("Where do lizards sleep?"), "named after its first question only");
        Assert.That(named.Title.Value, Is.EqualTo("Trip plans"));
    }

    [Test]
    public void Send_WhenSessionClosed_IsRejectedAsConflict()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).Closed().Build();

        Assert.That(() => chat.PostUserMessage(owner, PromptText.From("Hello"), Moments.At(5)),
            Throws.TypeOf<BusinessRuleViolationException>()
                .With.Property(nameof(DomainException.Kind)).EqualTo(DomainErrorKind.Conflict)
                .And.Property(nameof(BusinessRuleViolationException.Rule)).InstanceOf<ClosedChatAcceptsNoMessageRule>());
        Assert.That(chat.UpdatedAt, Is.EqualTo(Moments.T0));
    }

    [Test]
    public void Send_ByAnotherUser_IsNotFound()
    {
        var chat = new SessionBuilder().Build();

        Assert.That(() => chat.PostUserMessage(new UserBuilder().Named("mallory").Build(), PromptText.From("x"),
            Moments.T0), Refused.As(DomainErrorKind.NotFound));
    }

    [Test]
    public void ChangeSettings_ActiveSession_ReplacesThem()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).WithModel("old").Build();
        var sampling = SamplingParameters.Create(maxTokens: 64);

        chat.ChangeSettings(owner, ModelName.From("new"), SystemPrompt.FromOptional("Pirate."), sampling,
            Moments.At(9));

        Assert.That(chat.Model!.Value, Is.EqualTo("new"));
        Assert.That(chat.SystemPrompt!.Value, Is.EqualTo("Pirate."));
        Assert.That(chat.Sampling, Is.EqualTo(sampling));
        Assert.That(chat.UpdatedAt, Is.EqualTo(Moments.At(9)));
    }

    [Test]
    public void ChangeSettings_WhenSessionClosed_IsRejectedAndChangesNothing()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).WithModel("old").Closed().Build();

        Assert.That(() => chat.ChangeSettings(owner, ModelName.From("new"), null, SamplingParameters.Default,
            Moments.At(9)), Refused.As(DomainErrorKind.Conflict));
        Assert.That(chat.Model!.Value, Is.EqualTo("old"));
        Assert.That(chat.UpdatedAt, Is.EqualTo(Moments.T0));
    }

    [Test]
    public void ChangeSettings_ByAnotherUser_IsNotFound() =>
        Assert.That(() => new SessionBuilder().Build().ChangeSettings(new UserBuilder().Build(), null, null,
            SamplingParameters.Default, Moments.T0), Refused.As(DomainErrorKind.NotFound));

    [Test]
    public void Close_Twice_ClosesOnce()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).Build();

        chat.Close(owner, Moments.At(10));
        chat.Close(owner, Moments.At(20));

        Assert.That(chat.IsClosed, Is.True);
        Assert.That(chat.ClosedAt, Is.EqualTo(Moments.At(10)));
        Assert.That(chat.UpdatedAt, Is.EqualTo(Moments.At(10)));
    }

    [Test]
    public void CloseAsOperator_ClosesAnyonesChatOnce()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).Build();

        chat.CloseAsOperator(Moments.At(10));
        chat.CloseAsOperator(Moments.At(20));

        Assert.That(chat.IsClosed, Is.True);
        Assert.That(chat.ClosedAt, Is.EqualTo(Moments.At(10)));
    }

    [Test]
    public void Close_ByAdmin_IsAllowed_AndTheChatStaysTheOwners()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).Build();

        chat.Close(new UserBuilder().Named("admin").Admin().Build(), Moments.At(10));

        Assert.That(chat.IsClosed, Is.True);
        Assert.That(chat.ClosedAt, Is.EqualTo(Moments.At(10)));
        Assert.That(chat.OwnerId, Is.EqualTo(owner.Id));
    }

    [Test]
    public void Close_ByAnotherUser_IsNotFound_AndLeavesItOpen()
    {
        var chat = new SessionBuilder().Build();

        Assert.That(() => chat.Close(new UserBuilder().Named("mallory").Build(), Moments.At(10)),
            Refused.As(DomainErrorKind.NotFound));
        Assert.That(chat.IsClosed, Is.False);
    }

    [Test]
    public void Rename_ActiveSession_ChangesTheTitle()
    {
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).Build();

        chat.Rename(owner, ChatTitle.From("Renamed"), Moments.At(3));

        Assert.That(chat.Title.Value, Is.EqualTo("Renamed"));
        Assert.That(chat.UpdatedAt, Is.EqualTo(Moments.At(3)));
    }

    [Test]
    public void Rename_WhenSessionClosed_IsAllowed()
    {
        // A closed chat refuses messages and settings, but its title may still be tidied up in the list.
        var owner = new UserBuilder().Build();
        var chat = new SessionBuilder().OwnedBy(owner).Closed().Build();

        chat.Rename(owner, ChatTitle.From("Archived"), Moments.At(3));

        Assert.That(chat.Title.Value, Is.EqualTo("Archived"));
        Assert.That(chat.IsClosed, Is.True);
    }

    [Test]
    public void Rename_ByAnotherUser_IsNotFound() =>
        Assert.That(() => new SessionBuilder().Build().Rename(new UserBuilder().Build(), ChatTitle.From("x"),
            Moments.T0), Refused.As(DomainErrorKind.NotFound));
}

public class MessageTests
{
    [Test]
    public void Answer_FromUserSource_IsInvalid() =>
        Assert.That(() => Message.Answer(ChatId.New(), RelayRequestId.New(), "text", MessageSource.User, null,
            Moments.T0), Refused.As(DomainErrorKind.Invalid));

    [TestCase(MessageSource.Model)]
    [TestCase(MessageSource.Fallback)]
    [TestCase(MessageSource.Notice)]
    public void Answer_IsAnAssistantMessageForItsRequest(MessageSource source)
    {
        var chatId = ChatId.New();
        var requestId = RelayRequestId.New();

        var answer = Message.Answer(chatId, requestId, "text", source, new TokenCounts(10, 5), Moments.T0);

        Assert.That(answer.Role, Is.EqualTo(MessageRole.Assistant));
        Assert.That(answer.Source, Is.EqualTo(source));
        Assert.That(answer.ChatId, Is.EqualTo(chatId));
        Assert.That(answer.RequestId, Is.EqualTo(requestId));
        Assert.That(answer.Content, Is.EqualTo("text"));
        Assert.That(answer.Tokens!.Total, Is.EqualTo(15));
    }

    [Test]
    public void Answer_WithNullContent_Throws() =>
        Assert.That(() => Message.Answer(ChatId.New(), RelayRequestId.New(), null!, MessageSource.Model, null,
            Moments.T0), Throws.ArgumentNullException);

    [Test]
    public void Answer_MayBeEmpty_ForAModelThatSaidNothing() =>
        Assert.That(Message.Answer(ChatId.New(), RelayRequestId.New(), "", MessageSource.Model, null, Moments.T0)
            .Content, Is.Empty);
}
