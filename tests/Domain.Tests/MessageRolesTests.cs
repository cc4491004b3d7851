using MeatLizard.Domain.Messages;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

/// <summary>A role's one name, the same in the envelope, the API and OpenAI's chat API, and read back in any case.</summary>
public class MessageRolesTests
{
    [TestCase(MessageRole.User, "user")]
    [TestCase(MessageRole.Assistant, "assistant")]
    [TestCase(MessageRole.System, "system")]
    [TestCase(MessageRole.Tool, "tool")]
    public void EachRole_HasItsName_AndItsNameIsReadBack(MessageRole role, string name)
    {
        Assert.That(MessageRoles.Name(role), Is.EqualTo(name));
        Assert.That(MessageRoles.Parse(name), Is.EqualTo(role));
        Assert.That(MessageRoles.Parse(name.ToUpperInvariant()), Is.EqualTo(role));
    }

    [TestCase("developer")]
    [TestCase("")]
    [TestCase(null)]
    public void ANameOfNoRole_IsTheUsers(string? name) =>
        Assert.That(MessageRoles.Parse(name), Is.EqualTo(MessageRole.User));

    [Test]
    public void EveryRole_HasAName() =>
        Assert.That(Enum.GetValues<MessageRole>().Select(MessageRoles.Name), Is.Unique.And.All.Not.Empty);
}
