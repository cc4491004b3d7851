using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// What every database's repositories must do alike, run on SQLite and PostgreSQL: users and the comparisons shared by
/// the parts; queueing and the stored records each in a file of their own.
/// </summary>
public abstract partial class RepositoryContract : DatabaseContract
{
    [Test]
    public async Task User_RoundTripsEveryField()
    {
        var user = User.Restore(UserId.New(), Username.From("Alice.B-1"), "pbkdf2$hash", UserRole.Admin,
            UserStatus.Banned, new UserPreferences(ModelName.From("llama-3.1-8b:q4"), SystemPrompt.FromOptional("Be brief.")),
            At(1));
        await using (var scope = Db.Scope())
        {
            await scope.ServiceProvider.GetRequiredService<IUserRepository>().AddAsync(user, None);
        }

        await using var read = Db.Scope();
        var stored = await read.ServiceProvider.GetRequiredService<IUserRepository>().GetAsync(user.Id, None);

        AssertSame(stored, user);
    }

    [Test]
    public async Task User_WithoutPreferences_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var user = await AddUserAsync(scope.ServiceProvider, "plain");

        var stored = await scope.ServiceProvider.GetRequiredService<IUserRepository>().GetAsync(user.Id, None);

        AssertSame(stored, user);
        Assert.That(stored!.Preferences, Is.EqualTo(UserPreferences.None));
    }

    [Test]
    public async Task User_Update_StoresEveryMutableField()
    {
        await using var scope = Db.Scope();
        var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
        var user = await AddUserAsync(scope.ServiceProvider, "changer");
        user.ChangePasswordHash("new-hash");
        user.UpdatePreferences(new UserPreferences(ModelName.From("qwen2:7b"), SystemPrompt.FromOptional("Pirate.")));
        user.PromoteToAdmin();
        user.Ban();

        await users.UpdateAsync(user, None);

        AssertSame(await users.GetAsync(user.Id, None), user);
    }

    [Test]
    public async Task User_EndSession_IsStoredBesideTheOthers_AndOnlyThatSessionIsRefused()
    {
        await using var scope = Db.Scope();
        var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
        var user = await AddUserAsync(scope.ServiceProvider, "leaver");
        var stamp = (await users.GetAsync(user.Id, None))!.SecurityStamp;

        await users.EndSessionAsync(user.Id, "session-a", At(100), At(10), None);
        await users.EndSessionAsync(user.Id, "session-b", At(100), At(11), None);
        await users.EndSessionAsync(user.Id, "session-a", At(100), At(12), None); // twice is harmless

        var stored = (await users.GetAsync(user.Id, None))!;
        var byName = (await users.GetByUsernameAsync("leaver", None))!;
        Assert.Multiple(() =>
        {
            Assert.That(stored.EndedSessions, Is.EquivalentTo(new[] { "session-a", "session-b" }));
            Assert.That(byName.EndedSessions, Is.EquivalentTo(new[] { "session-a", "session-b" }));
            Assert.That(stored.SecurityStamp, Is.Not.Empty.And.EqualTo(stamp));
            Assert.That(stored.AcceptsSignIn(stamp, "session-a"), Is.False);
            Assert.That(stored.AcceptsSignIn(stamp, "session-c"), Is.True);
        });
    }

    [Test]
    public async Task User_EndSession_DropsRecordsWhoseCredentialsExpiredAnyway()
    {
        await using var scope = Db.Scope();
        var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
        var user = await AddUserAsync(scope.ServiceProvider, "oldleaver");

        await users.EndSessionAsync(user.Id, "expires-soon", At(20), At(10), None);
        await users.EndSessionAsync(user.Id, "later", At(200), At(30), None);

        Assert.That((await users.GetAsync(user.Id, None))!.EndedSessions, Is.EquivalentTo(new[] { "later" }));
    }

    [Test]
    public async Task GetByUsername_IgnoresCase()
    {
        await using var scope = Db.Scope();
        var user = await AddUserAsync(scope.ServiceProvider, "MixedCase");

        var stored = await scope.ServiceProvider.GetRequiredService<IUserRepository>()
            .GetByUsernameAsync("mIXEDcASE", None);

        Assert.That(stored?.Id, Is.EqualTo(user.Id));
        Assert.That(stored!.Username.Value, Is.EqualTo("MixedCase"), "the spelling chosen at registration is kept");
    }

    [Test]
    public async Task GetByUsername_WhenNoSuchUser_ReturnsNull()
    {
        await using var scope = Db.Scope();
        await AddUserAsync(scope.ServiceProvider, "someone");

        var stored = await scope.ServiceProvider.GetRequiredService<IUserRepository>()
            .GetByUsernameAsync("someone-else", None);

        Assert.That(stored, Is.Null);
    }

    [Test]
    public async Task AddUser_WhenUsernameDiffersOnlyInCase_IsRejected()
    {
        await using var scope = Db.Scope();
        await AddUserAsync(scope.ServiceProvider, "alice");

        var ex = Assert.CatchAsync(() => AddUserAsync(scope.ServiceProvider, "ALICE"));

        Assert.That(Db.IsConstraintViolation(ex!), Is.True, ex!.Message);
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM users"), Is.EqualTo(1));
    }

    private static void AssertSame(User? actual, User expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(actual!.Id, Is.EqualTo(expected.Id));
            Assert.That(actual.Username, Is.EqualTo(expected.Username));
            Assert.That(actual.PasswordHash, Is.EqualTo(expected.PasswordHash));
            Assert.That(actual.Role, Is.EqualTo(expected.Role));
            Assert.That(actual.Status, Is.EqualTo(expected.Status));
            Assert.That(actual.Preferences, Is.EqualTo(expected.Preferences));
            Assert.That(actual.CreatedAt, Is.EqualTo(expected.CreatedAt));
            Assert.That(actual.SecurityStamp, Is.EqualTo(expected.SecurityStamp));
            Assert.That(actual.EndedSessions, Is.EquivalentTo(expected.EndedSessions));
        });
    }

    private static void AssertSame(ApiKey? actual, ApiKey expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(actual!.Id, Is.EqualTo(expected.Id));
            Assert.That(actual.OwnerId, Is.EqualTo(expected.OwnerId));
            Assert.That(actual.Name, Is.EqualTo(expected.Name));
            Assert.That(actual.Prefix, Is.EqualTo(expected.Prefix));
            Assert.That(actual.SecretHash, Is.EqualTo(expected.SecretHash));
            Assert.That(actual.CreatedAt, Is.EqualTo(expected.CreatedAt));
            Assert.That(actual.LastUsedAt, Is.EqualTo(expected.LastUsedAt));
            Assert.That(actual.RevokedAt, Is.EqualTo(expected.RevokedAt));
        });
    }

    private static void AssertSame(Chat? actual, Chat expected) => AssertSameChat(actual, expected);

    private static void AssertSame(Message? actual, Message expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(actual!.Id, Is.EqualTo(expected.Id));
            Assert.That(actual.ChatId, Is.EqualTo(expected.ChatId));
            Assert.That(actual.Role, Is.EqualTo(expected.Role));
            Assert.That(actual.Content, Is.EqualTo(expected.Content));
            Assert.That(actual.Source, Is.EqualTo(expected.Source));
            Assert.That(actual.Tokens, Is.EqualTo(expected.Tokens));
            Assert.That(actual.RequestId, Is.EqualTo(expected.RequestId));
            Assert.That(actual.CreatedAt, Is.EqualTo(expected.CreatedAt));
            Assert.That(actual.Model, Is.EqualTo(expected.Model));
            Assert.That(actual.Finish, Is.EqualTo(expected.Finish));
            Assert.That(actual.ToolCalls, Is.EqualTo(expected.ToolCalls));
            Assert.That(actual.ToolCallId, Is.EqualTo(expected.ToolCallId));
        });
    }

    private static void AssertSame(RelayRequest? actual, RelayRequest expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(actual!.Id, Is.EqualTo(expected.Id));
            Assert.That(actual.ChatId, Is.EqualTo(expected.ChatId));
            Assert.That(actual.UserId, Is.EqualTo(expected.UserId));
            Assert.That(actual.UserMessageId, Is.EqualTo(expected.UserMessageId));
            Assert.That(actual.Sampling, Is.EqualTo(expected.Sampling));
            Assert.That(actual.Status, Is.EqualTo(expected.Status));
            Assert.That(actual.Attempts, Is.EqualTo(expected.Attempts));
            Assert.That(actual.LastSeq, Is.EqualTo(expected.LastSeq));
            Assert.That(actual.CreatedAt, Is.EqualTo(expected.CreatedAt));
            Assert.That(actual.DispatchedAt, Is.EqualTo(expected.DispatchedAt));
            Assert.That(actual.AckedAt, Is.EqualTo(expected.AckedAt));
            Assert.That(actual.AckDeadline, Is.EqualTo(expected.AckDeadline));
            Assert.That(actual.CompletionDeadline, Is.EqualTo(expected.CompletionDeadline));
            Assert.That(actual.FinishedAt, Is.EqualTo(expected.FinishedAt));
            Assert.That(actual.AnswerMessageId, Is.EqualTo(expected.AnswerMessageId));
            Assert.That(actual.TimeoutReason, Is.EqualTo(expected.TimeoutReason));
            Assert.That(actual.Error, Is.EqualTo(expected.Error));
            Assert.That(actual.Options, Is.EqualTo(expected.Options));
            Assert.That(actual.TraceParent, Is.EqualTo(expected.TraceParent));
        });
    }
}
