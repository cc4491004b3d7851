using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

/// <summary>The DTOs clients read: every field, with enums in the lower-case spelling the API documents.</summary>
public class MappingTests
{
    [Test]
    public void ModelAnswer_ToDto_CarriesEveryField()
    {
        var id = MessageId.New();
        var chatId = ChatId.New();
        var requestId = RelayRequestId.New();
        var message = Message.Restore(id, chatId, MessageRole.Assistant, "Hi there", MessageSource.Model,
            new TokenCounts(7, 3), requestId, Moments.At(4), "llama:q4", FinishReason.Length);

        Assert.That(message.ToDto(), Is.EqualTo(new MessageDto(id.Value, chatId.Value, "assistant", "Hi there", "model",
            Moments.At(4), new TokensDto(7, 3, 10), requestId.Value, "llama:q4", "length")));
    }

    [Test]
    public void UserMessage_ToDto_HasNoTokensRequestModelOrFinish()
    {
        var owner = new UserBuilder().Build();
        var message = new SessionBuilder().OwnedBy(owner).Build().PostUserMessage(owner, PromptText.From("Q"), Moments.T0);

        var dto = message.ToDto();

        Assert.That(dto.Role, Is.EqualTo("user"));
        Assert.That(dto.Source, Is.EqualTo("user"));
        Assert.That(dto.Content, Is.EqualTo("Q"));
        Assert.That(dto.Tokens, Is.Null);
        Assert.That(dto.RequestId, Is.Null);
        Assert.That(dto.Model, Is.Null);
        Assert.That(dto.FinishReason, Is.Null);
    }

    [TestCase(MessageRole.System, MessageSource.Notice, FinishReason.Stop, "system", "notice", "stop")]
    [TestCase(MessageRole.Assistant, MessageSource.Fallback, FinishReason.Length, "assistant", "fallback", "length")]
    public void Message_ToDto_SpellsEnumsLowerCase(MessageRole role, MessageSource source, FinishReason finish,
        string expectedRole, string expectedSource, string expectedFinish)
    {
        var message = Message.Restore(MessageId.New(), ChatId.New(), role, "text", source, null, null, Moments.T0,
            finish: finish);

        var dto = message.ToDto();

        Assert.That((dto.Role, dto.Source, dto.FinishReason), Is.EqualTo((expectedRole, expectedSource, expectedFinish)));
    }

    [Test]
    public void ClosedChat_ToDto_CarriesEveryField()
    {
        var id = ChatId.New();
        var chat = Chat.Restore(id, UserId.New(), ChatTitle.From("Plans"), ChatStatus.Closed,
            ModelName.FromOptional("llama:q4"), SystemPrompt.FromOptional("Be kind."),
            SamplingParameters.Create(0.5, 0.9, 128), Moments.At(1), Moments.At(2), Moments.At(3));

        Assert.That(chat.ToDto(), Is.EqualTo(new SessionDto(id.Value, "Plans", "closed", "llama:q4", "Be kind.", 0.5,
            0.9, 128, Moments.At(1), Moments.At(2), Moments.At(3))));
    }

    [Test]
    public void ActiveChat_WithoutModelPromptOrSampling_ToDto_HasNulls()
    {
        var dto = new SessionBuilder().Build().ToDto();

        Assert.That(dto.Status, Is.EqualTo("active"));
        Assert.That(dto.Model, Is.Null);
        Assert.That(dto.SystemPrompt, Is.Null);
        Assert.That((dto.Temperature, dto.TopP, dto.MaxTokens), Is.EqualTo(((double?)null, (double?)null, (int?)null)));
        Assert.That(dto.ClosedAt, Is.Null);
    }

    [Test]
    public void Admin_ToDto_CarriesRoleLowerCaseAndTheSecurityStamp()
    {
        var id = UserId.New();
        var user = User.Restore(id, Username.From("root"), "hash", UserRole.Admin, UserStatus.Active,
            UserPreferences.None, Moments.T0, securityStamp: "stamp-1");

        var dto = user.ToDto();

        Assert.That(dto, Is.EqualTo(new UserDto(id.Value, "root", "admin") { SecurityStamp = "stamp-1" }));
    }

    [Test]
    public void User_ToDto_HasRoleUser() =>
        Assert.That(new UserBuilder().Build().ToDto().Role, Is.EqualTo("user"));
}
