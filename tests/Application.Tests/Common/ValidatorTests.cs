using FluentValidation.Results;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Messages.Queries;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public class RegisterUserValidatorTests
{
    private readonly RegisterUserValidator _validator = new();

    private static string[] Fields(ValidationResult result) => [.. result.Errors.Select(e => e.PropertyName).Distinct()];

    [Test]
    public void ValidUsernameAndPassword_Pass() =>
        Assert.That(_validator.Validate(new RegisterUser("alice", "correct horse")).IsValid, Is.True);

    [TestCase(null)]
    [TestCase("")]
    [TestCase("ab")]
    [TestCase("has space")]
    [TestCase("abcdefghijklmnopqrstuvwxyz0123456")]
    public void InvalidUsername_FailsOnFieldUsername(string? username) =>
        Assert.That(Fields(_validator.Validate(new RegisterUser(username, "correct horse"))),
            Is.EqualTo(new[] { "username" }));

    [TestCase(null)]
    [TestCase("")]
    [TestCase("1234567")]
    public void MissingOrShortPassword_FailsOnFieldPassword(string? password) =>
        Assert.That(Fields(_validator.Validate(new RegisterUser("alice", password))), Is.EqualTo(new[] { "password" }));

    [Test]
    public void PasswordOfEightTo256Characters_Passes()
    {
        Assert.That(_validator.Validate(new RegisterUser("alice", new string('p', 8))).IsValid, Is.True);
        Assert.That(_validator.Validate(new RegisterUser("alice", new string('p', 256))).IsValid, Is.True);
    }

    [Test]
    public void PasswordOver256Characters_FailsOnFieldPassword() =>
        Assert.That(Fields(_validator.Validate(new RegisterUser("alice", new string('p', 257)))),
            Is.EqualTo(new[] { "password" }));

    [Test]
    public void UsernameFailure_ExplainsTheRule() =>
        Assert.That(_validator.Validate(new RegisterUser("x", "correct horse")).Errors.Single().ErrorMessage,
            Does.Contain("3–32 characters"));
}

public class SendMessageValidatorTests
{
    private readonly SendMessageValidator _validator = new();

    [Test]
    public void Text_Passes() => Assert.That(_validator.Validate(new SendMessage(Guid.NewGuid(), "hi")).IsValid, Is.True);

    [TestCase(null)]
    [TestCase("")]
    [TestCase("   ")]
    public void NoText_FailsOnFieldContent(string? content) =>
        Assert.That(_validator.Validate(new SendMessage(Guid.NewGuid(), content)).Errors.Select(e => e.PropertyName),
            Is.EqualTo(new[] { "content" }));

    [Test]
    public void OverlongText_IsLeftToTheDomain_SoItCanAnswerTooLarge() =>
        Assert.That(_validator.Validate(new SendMessage(Guid.NewGuid(), new string('x', 20_000))).IsValid, Is.True);
}

public class GetMessagesValidatorTests
{
    private readonly GetMessagesValidator _validator = new();

    [TestCase(1)]
    [TestCase(50)]
    [TestCase(200)]
    public void LimitWithinOneTo200_Passes(int limit) =>
        Assert.That(_validator.Validate(new GetMessages(Guid.NewGuid(), null, limit)).IsValid, Is.True);

    [TestCase(0)]
    [TestCase(-1)]
    [TestCase(201)]
    public void LimitOutOfRange_FailsOnFieldLimit(int limit) =>
        Assert.That(_validator.Validate(new GetMessages(Guid.NewGuid(), null, limit)).Errors.Select(e => e.PropertyName),
            Is.EqualTo(new[] { "limit" }));

    [Test]
    public void DefaultLimit_IsFifty() => Assert.That(new GetMessages(Guid.NewGuid(), null).Limit, Is.EqualTo(50));
}

public class CreateApiKeyValidatorTests
{
    private readonly CreateApiKeyValidator _validator = new();

    [Test]
    public void Name_Passes() => Assert.That(_validator.Validate(new CreateApiKey("ci")).IsValid, Is.True);

    [Test]
    public void NameAt100Characters_Passes() =>
        Assert.That(_validator.Validate(new CreateApiKey(new string('k', 100))).IsValid, Is.True);

    [TestCase(null)]
    [TestCase("")]
    [TestCase("  ")]
    public void NoName_FailsOnFieldName(string? name) =>
        Assert.That(_validator.Validate(new CreateApiKey(name)).Errors.Select(e => e.PropertyName).Distinct(),
            Is.EqualTo(new[] { "name" }));

    [Test]
    public void NameOver100Characters_FailsOnFieldName() =>
        Assert.That(_validator.Validate(new CreateApiKey(new string('k', 101))).Errors.Select(e => e.PropertyName),
            Is.EqualTo(new[] { "name" }));
}

public class LogInValidatorTests
{
    private readonly LogInValidator _validator = new();

    [Test]
    public void MissingUsernameAndPassword_FailOnBothFields() =>
        Assert.That(_validator.Validate(new LogIn(null, "")).Errors.Select(e => e.PropertyName),
            Is.EquivalentTo(new[] { "username", "password" }));
}
