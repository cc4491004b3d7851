using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>Stores the rows a test needs through the adapter's own repositories.</summary>
internal static class PersistenceTestData
{
    /// <summary>Whole milliseconds, the precision the database keeps.</summary>
    public static readonly DateTimeOffset T0 = new(2025, 3, 14, 15, 9, 26, 535, TimeSpan.Zero);

    public static DateTimeOffset At(int seconds) => T0.AddSeconds(seconds);

    public static async Task<User> AddUserAsync(IServiceProvider services, string? username = null)
    {
        var user = User.Register(Username.From(username ?? "u" + Guid.NewGuid().ToString("N")[..10]), "hash", T0);
        await services.GetRequiredService<IUserRepository>().AddAsync(user, CancellationToken.None);
        return user;
    }

    public static async Task<Chat> AddSessionAsync(
        IServiceProvider services, User owner, DateTimeOffset? at = null, string title = "A chat")
    {
        var chat = Chat.Start(owner, ChatTitle.From(title), null, null, null, at ?? T0);
        await services.GetRequiredService<IChatRepository>().AddAsync(chat, CancellationToken.None);
        return chat;
    }

    public static async Task<Message> AddMessageAsync(
        IServiceProvider services, Chat chat, MessageSource source, string content,
        DateTimeOffset? at = null)
    {
        var message = source == MessageSource.User
            ? Message.Restore(MessageId.New(), chat.Id, MessageRole.User, content, MessageSource.User, null, null,
                at ?? T0)
            : Message.Answer(chat.Id, RelayRequestId.New(), content, source, null, at ?? T0);
        await services.GetRequiredService<IMessageRepository>().AddAsync(message, CancellationToken.None);
        return message;
    }

    public static async Task<RelayRequest> AddRequestAsync(
        IServiceProvider services, Chat chat, User user, DateTimeOffset createdAt)
    {
        var prompt = await AddMessageAsync(services, chat, MessageSource.User, "question", createdAt);
        var request = RelayRequest.Create(chat.Id, user.Id, prompt.Id, SamplingParameters.Default, createdAt);
        await services.GetRequiredService<IRelayRequestRepository>().AddAsync(request, CancellationToken.None);
        return request;
    }

    /// <summary>Every field of the chat as stored.</summary>
    public static void AssertSameChat(Chat? actual, Chat expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(actual!.Id, Is.EqualTo(expected.Id));
            Assert.That(actual.OwnerId, Is.EqualTo(expected.OwnerId));
            Assert.That(actual.Title, Is.EqualTo(expected.Title));
            Assert.That(actual.Status, Is.EqualTo(expected.Status));
            Assert.That(actual.Model, Is.EqualTo(expected.Model));
            Assert.That(actual.SystemPrompt, Is.EqualTo(expected.SystemPrompt));
            Assert.That(actual.Sampling, Is.EqualTo(expected.Sampling));
            Assert.That(actual.CreatedAt, Is.EqualTo(expected.CreatedAt));
            Assert.That(actual.UpdatedAt, Is.EqualTo(expected.UpdatedAt));
            Assert.That(actual.ClosedAt, Is.EqualTo(expected.ClosedAt));
        });
    }
}
