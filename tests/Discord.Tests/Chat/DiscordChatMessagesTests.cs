using System.Text.Json;
using MeatLizard.Infrastructure.Discord.Chat;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Chat;

public sealed class DiscordChatMessagesTests
{
    private const string Bot = "200000000000000001";

    [Test]
    public void AMention_WithHalfASurrogatePairEscapedAlone_IsReadWithTheReplacementCharacter()
    {
        // Valid JSON that is not valid Unicode: reading the content threw, and the member's question was dropped unanswered.
        using var message = JsonDocument.Parse($$"""
            {"id":"300000000000000001","channel_id":"300000000000000002","guild_id":"300000000000000003",
             "author":{"id":"300000000000000004","username":"al\udc00ice"},"content":"<@{{Bot}}> are you \ud800there?",
             "mentions":[{"id":"{{Bot}}","username":"bot"}]}
            """);

        var read = DiscordChatMessages.Read(message.RootElement, Bot);

        Assert.That(read, Is.Not.Null);
        Assert.That(read!.Text, Is.EqualTo("are you \uFFFDthere?"));
        Assert.That(read.Author.DisplayName, Is.EqualTo("al\uFFFDice"));
    }
}
