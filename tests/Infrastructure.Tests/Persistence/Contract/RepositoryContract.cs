using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

public abstract class RepositoryContract : DatabaseContract
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
    public async Task Session_WithAnswerState_TellsWhetherARequestIsUnanswered()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var sessions = services.GetRequiredService<IChatSessionRepository>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var session = await AddSessionAsync(services, owner);
        var other = await AddSessionAsync(services, owner);

        var quiet = await sessions.GetWithAnswerStateAsync(session.Id, None);
        var request = await AddRequestAsync(services, other, owner, At(1));
        var pendingElsewhere = await sessions.GetWithAnswerStateAsync(session.Id, None);
        var pending = await sessions.GetWithAnswerStateAsync(other.Id, None);
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await requests.UpdateAsync(request, None);
        var inFlight = await sessions.GetWithAnswerStateAsync(other.Id, None);
        request.Complete(MessageId.New(), At(3));
        await requests.UpdateAsync(request, None);
        var answered = await sessions.GetWithAnswerStateAsync(other.Id, None);

        Assert.Multiple(() =>
        {
            Assert.That(quiet!.Session.Id, Is.EqualTo(session.Id));
            Assert.That(quiet.Session.Title, Is.EqualTo(session.Title));
            Assert.That(quiet.IsAnswering, Is.False);
            Assert.That(pendingElsewhere!.IsAnswering, Is.False, "another session's request does not count");
            Assert.That(pending!.IsAnswering, Is.True);
            Assert.That(inFlight!.IsAnswering, Is.True);
            Assert.That(answered!.IsAnswering, Is.False);
        });
        Assert.That(await sessions.GetWithAnswerStateAsync(new SessionId(Guid.NewGuid()), None), Is.Null);
    }

    [Test]
    public async Task Session_MarkedToKeepNothing_IsForgettableOnlyPastItsTime_AndNotWhileAQuestionIsUnderWay()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var sessions = services.GetRequiredService<IChatSessionRepository>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var marked = await AddSessionAsync(services, owner);
        var asking = await AddSessionAsync(services, owner);
        var unmarked = await AddSessionAsync(services, owner);
        await sessions.ForgetAfterAsync(marked.Id, At(60), None);
        await sessions.ForgetAfterAsync(asking.Id, At(60), None);
        var request = await AddRequestAsync(services, asking, owner, At(1));

        var early = await sessions.ListForgettableAsync(At(59), 100, None);
        var due = await sessions.ListForgettableAsync(At(61), 100, None);
        request.Dispatch(At(62), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        request.Complete(MessageId.New(), At(63));
        await requests.UpdateAsync(request, None);
        var answered = await sessions.ListForgettableAsync(At(64), 100, None);

        Assert.Multiple(() =>
        {
            Assert.That(early, Does.Not.Contain(marked.Id).And.Not.Contain(asking.Id), "not before its time");
            Assert.That(due, Does.Contain(marked.Id));
            Assert.That(due, Does.Not.Contain(asking.Id), "a question under way keeps it");
            Assert.That(answered, Does.Contain(asking.Id).And.Contain(marked.Id));
            Assert.That(answered, Does.Not.Contain(unmarked.Id), "an ordinary chat is never forgettable");
        });
    }

    /// <summary>
    /// A send as SendMessage makes it: the chat as read (or as the last send stored it), the user's message posted in
    /// it at <paramref name="at"/>, and the message's pending request, queued only at <paramref name="version"/>.
    /// </summary>
    private static async Task<(string? Version, Message Message, RelayRequest Request)> QueueAsync(
        IServiceProvider services, ChatSession chat, User owner, string version, DateTimeOffset at)
    {
        var message = chat.PostUserMessage(owner, PromptText.From("question at " + at.ToString("O")), at);
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, at);
        var stored = await services.GetRequiredService<IRelayRequestRepository>()
            .TryQueueAsync(chat, version, message, request, None);
        return (stored, message, request);
    }

    [Test]
    public async Task Queue_StoresTheMessageTheRequestAndTheChatsTime_OnlyAtTheVersionRead_AndNotWhileAnswering()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var sessions = services.GetRequiredService<IChatSessionRepository>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var messages = services.GetRequiredService<IMessageRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var read = (await sessions.GetWithAnswerStateAsync(chat.Id, None))!;

        var first = await QueueAsync(services, read.Session, owner, read.Version, At(5));

        Assert.That(first.Version, Is.Not.Null.And.Not.EqualTo(read.Version));
        Assert.That((await messages.GetAsync(first.Message.Id, None))?.Content, Is.EqualTo(first.Message.Content));
        var queued = await requests.GetAsync(first.Request.Id, None);
        Assert.That(queued?.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(queued!.UserMessageId, Is.EqualTo(first.Message.Id));
        var after = (await sessions.GetWithAnswerStateAsync(chat.Id, None))!;
        Assert.That(after.Session.UpdatedAt, Is.EqualTo(At(5)));
        Assert.That(after.IsAnswering, Is.True);
        Assert.That(after.Version, Is.EqualTo(first.Version), "the version returned is the one a read now sees");

        var whileAnswering = await QueueAsync(services, after.Session, owner, first.Version!, At(6));
        Assert.That(whileAnswering.Version, Is.Null, "a request of the chat is still unanswered");
        Assert.That(await messages.GetAsync(whileAnswering.Message.Id, None), Is.Null);
        Assert.That(await requests.GetAsync(whileAnswering.Request.Id, None), Is.Null);

        queued.Cancel(At(7));
        await requests.UpdateAsync(queued, None);
        var stale = await QueueAsync(services, read.Session, owner, read.Version, At(8));
        Assert.That(stale.Version, Is.Null, "the chat changed since that version was read");
        Assert.That(await requests.GetAsync(stale.Request.Id, None), Is.Null);

        var second = await QueueAsync(services, after.Session, owner, first.Version!, At(9));
        Assert.That(second.Version, Is.Not.Null, "answered, and still as the first send stored it");
        Assert.That((await sessions.GetAsync(chat.Id, None))!.UpdatedAt, Is.EqualTo(At(9)));
    }

    [Test]
    public async Task Queue_InsideAUnitOfWork_IsPartOfIt_RolledBackWithIt_AndSeenByItsNextStatements()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var sessions = services.GetRequiredService<IChatSessionRepository>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var read = (await sessions.GetWithAnswerStateAsync(chat.Id, None))!;

        (string? Version, Message Message, RelayRequest Request) queued = (null, null!, null!);
        RelayRequest? seenInside = null;
        Assert.ThrowsAsync<InvalidOperationException>(() => services.GetRequiredService<IUnitOfWork>()
            .InTransactionAsync<int>(async _ =>
            {
                queued = await QueueAsync(services, read.Session, owner, read.Version, At(5));
                seenInside = await requests.GetAsync(queued.Request.Id, None);
                throw new InvalidOperationException("the unit fails after queueing");
            }, None));

        Assert.That(queued.Version, Is.Not.Null);
        Assert.That(seenInside?.Status, Is.EqualTo(RelayRequestStatus.Pending), "queued in the unit's own transaction");
        Assert.That(await requests.GetAsync(queued.Request.Id, None), Is.Null, "rolled back with the unit");
        Assert.That(await services.GetRequiredService<IMessageRepository>().GetAsync(queued.Message.Id, None), Is.Null);
        Assert.That((await sessions.GetWithAnswerStateAsync(chat.Id, None))!.Version, Is.EqualTo(read.Version));
    }

    [Test]
    public async Task Queue_InAChatRenamedOrClosedSince_StoresNothing()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var sessions = services.GetRequiredService<IChatSessionRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var read = (await sessions.GetWithAnswerStateAsync(chat.Id, None))!;

        chat.Rename(owner, SessionTitle.From("Renamed"), At(3));
        await sessions.UpdateAsync(chat, None);
        var renamed = await QueueAsync(services, read.Session, owner, read.Version, At(4));
        var reread = (await sessions.GetWithAnswerStateAsync(chat.Id, None))!;
        chat.Close(owner, At(5));
        await sessions.UpdateAsync(chat, None);
        var closed = await QueueAsync(services, reread.Session, owner, reread.Version, At(6));
        var closedAtItsOwnVersion = (await sessions.GetWithAnswerStateAsync(chat.Id, None))!;
        var current = ChatSession.Restore(chat.Id, chat.OwnerId, chat.Title, SessionStatus.Active, chat.Model,
            chat.SystemPrompt, chat.Sampling, chat.CreatedAt, chat.UpdatedAt, null);
        var stillClosed = await QueueAsync(services, current, owner, closedAtItsOwnVersion.Version, At(7));

        Assert.Multiple(() =>
        {
            Assert.That(renamed.Version, Is.Null);
            Assert.That(closed.Version, Is.Null);
            Assert.That(stillClosed.Version, Is.Null, "a closed chat takes no message, whatever the caller believes");
        });
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests"), Is.Zero);
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.Zero);
        Assert.That((await sessions.GetAsync(chat.Id, None))!.Title.Value, Is.EqualTo("Renamed"));
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

    [Test]
    public async Task ApiKey_RoundTripsEveryField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Restore(ApiKeyId.New(), owner.Id, "ci key", "ml_abc123", "secret-hash", At(1), At(2), At(3));

        await keys.AddAsync(key, None);

        AssertSame(await keys.GetAsync(key.Id, None), key);
        AssertSame(await keys.GetByPrefixAsync("ml_abc123", None), key);
    }

    [Test]
    public async Task ApiKey_UnusedAndActive_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Issue(owner, "fresh", "ml_fresh1", "hash", At(1));

        await keys.AddAsync(key, None);
        var stored = await keys.GetAsync(key.Id, None);

        AssertSame(stored, key);
        Assert.That(stored!.LastUsedAt, Is.Null);
        Assert.That(stored.RevokedAt, Is.Null);
    }

    [Test]
    public async Task ApiKey_Update_StoresLastUseAndRevocation()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Issue(owner, "used", "ml_used01", "hash", At(1));
        await keys.AddAsync(key, None);
        key.MarkUsed(At(7));
        key.Revoke(At(8));

        await keys.MarkUsedAsync(key.Id, At(7), None);
        await keys.UpdateAsync(key, None);

        AssertSame(await keys.GetAsync(key.Id, None), key);
    }

    [Test]
    public async Task ApiKey_RevokeAll_EndsEveryKeyOfTheOwnerOnly_AndKeepsEarlierRevocations()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var other = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var first = ApiKey.Issue(owner, "one", "ml_all001", "hash", At(1));
        var second = ApiKey.Issue(owner, "two", "ml_all002", "hash", At(1));
        var revokedBefore = ApiKey.Issue(owner, "old", "ml_all003", "hash", At(1));
        var others = ApiKey.Issue(other, "theirs", "ml_all004", "hash", At(1));
        foreach (var key in new[] { first, second, revokedBefore, others })
        {
            await keys.AddAsync(key, None);
        }

        revokedBefore.Revoke(At(2));
        await keys.UpdateAsync(revokedBefore, None);

        var revoked = await keys.RevokeAllAsync(owner.Id, At(9), None);

        Assert.That(revoked, Is.EqualTo(2));
        Assert.That((await keys.GetAsync(first.Id, None))!.RevokedAt, Is.EqualTo(At(9)));
        Assert.That((await keys.GetAsync(second.Id, None))!.RevokedAt, Is.EqualTo(At(9)));
        Assert.That((await keys.GetAsync(revokedBefore.Id, None))!.RevokedAt, Is.EqualTo(At(2)));
        Assert.That((await keys.GetAsync(others.Id, None))!.RevokedAt, Is.Null);
    }

    [Test]
    public async Task ApiKey_RevokedMeanwhile_StaysRevoked_WhateverAStaleCopyWrites()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Issue(owner, "raced", "ml_race01", "hash", At(1));
        await keys.AddAsync(key, None);
        var readBeforeRevocation = (await keys.GetAsync(key.Id, None))!;
        var revoking = (await keys.GetAsync(key.Id, None))!;
        revoking.Revoke(At(5));
        await keys.UpdateAsync(revoking, None);

        // What an authentication that read the key before the revocation goes on to write.
        await keys.MarkUsedAsync(readBeforeRevocation.Id, At(6), None);
        readBeforeRevocation.MarkUsed(At(6));
        await keys.UpdateAsync(readBeforeRevocation, None);

        var stored = await keys.GetAsync(key.Id, None);
        Assert.That(stored!.RevokedAt, Is.EqualTo(At(5)));
    }

    [Test]
    public async Task ApiKey_MarkUsed_MovesTheLastUseForwardOnly()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Issue(owner, "used", "ml_used02", "hash", At(1));
        await keys.AddAsync(key, None);

        await keys.MarkUsedAsync(key.Id, At(7), None);
        await keys.MarkUsedAsync(key.Id, At(4), None);

        var stored = await keys.GetAsync(key.Id, None);
        Assert.That(stored!.LastUsedAt, Is.EqualTo(At(7)));
        Assert.That(stored.RevokedAt, Is.Null);
        Assert.That(stored.Name, Is.EqualTo("used"));
    }

    [Test]
    public async Task AddApiKey_WithTakenPrefix_IsRejected()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        await keys.AddAsync(ApiKey.Issue(owner, "one", "ml_same00", "h1", At(1)), None);

        var ex = Assert.CatchAsync(() => keys.AddAsync(ApiKey.Issue(owner, "two", "ml_same00", "h2", At(2)), None));

        Assert.That(Db.IsConstraintViolation(ex!), Is.True, ex!.Message);
    }

    [Test]
    public async Task ChatSession_RoundTripsEveryField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var sessions = scope.ServiceProvider.GetRequiredService<IChatSessionRepository>();
        var session = ChatSession.Restore(SessionId.New(), owner.Id, SessionTitle.From("Trip planning"),
            SessionStatus.Closed, ModelName.From("mistral:7b"), SystemPrompt.FromOptional("You are a travel agent."),
            SamplingParameters.Create(0.7, 0.95, 512), At(1), At(2), At(3));

        await sessions.AddAsync(session, None);

        AssertSame(await sessions.GetAsync(session.Id, None), session);
    }

    [Test]
    public async Task ChatSession_WithDefaults_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var session = await AddSessionAsync(scope.ServiceProvider, owner);

        var stored = await scope.ServiceProvider.GetRequiredService<IChatSessionRepository>().GetAsync(session.Id, None);

        AssertSame(stored, session);
        Assert.That(stored!.Sampling, Is.EqualTo(SamplingParameters.Default));
        Assert.That(stored.ClosedAt, Is.Null);
    }

    [Test]
    public async Task ChatSession_Update_StoresEveryMutableField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var sessions = scope.ServiceProvider.GetRequiredService<IChatSessionRepository>();
        var session = await AddSessionAsync(scope.ServiceProvider, owner);
        session.Rename(owner, SessionTitle.From("Renamed"), At(1));
        session.ChangeSettings(owner, ModelName.From("phi3:mini"), SystemPrompt.FromOptional("Terse."),
            SamplingParameters.Create(1.2, 0.5, 64), At(2));
        session.Close(owner, At(3));

        await sessions.UpdateAsync(session, None);

        AssertSame(await sessions.GetAsync(session.Id, None), session);
    }

    [Test]
    public async Task Message_RoundTripsEveryField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var session = await AddSessionAsync(scope.ServiceProvider, owner);
        var messages = scope.ServiceProvider.GetRequiredService<IMessageRepository>();
        var answer = Message.Answer(session.Id, RelayRequestId.New(), "Forty-two.", MessageSource.Model,
            new TokenCounts(12, 3), At(4), "alpha", FinishReason.Length);

        await messages.AddAsync(answer, None);

        AssertSame(await messages.GetAsync(answer.Id, None), answer);
        Assert.That((answer.Model, answer.Finish), Is.EqualTo(("alpha", (FinishReason?)FinishReason.Length)));
    }

    [Test]
    public async Task Message_WithoutTokensOrRequest_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var session = await AddSessionAsync(scope.ServiceProvider, owner);
        var posted = session.PostUserMessage(owner, PromptText.From("Hello there"), At(1));
        var messages = scope.ServiceProvider.GetRequiredService<IMessageRepository>();

        await messages.AddAsync(posted, None);
        var stored = await messages.GetAsync(posted.Id, None);

        AssertSame(stored, posted);
        Assert.That(stored!.Tokens, Is.Null);
        Assert.That(stored.RequestId, Is.Null);
    }

    [Test]
    public async Task RelayRequest_RoundTripsEveryField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var session = await AddSessionAsync(scope.ServiceProvider, owner);
        var prompt = await AddMessageAsync(scope.ServiceProvider, session, MessageSource.User, "hi");
        var requests = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var request = RelayRequest.Restore(RelayRequestId.New(), session.Id, owner.Id, prompt.Id,
            SamplingParameters.Create(0.2, 0.9, 256), RelayRequestStatus.Fallback, 3, 17, At(1), At(2), At(3), At(4),
            At(5), At(6), MessageId.New(), RelayTimeoutReason.NoCompletion, "worker crashed",
            GenerationOptions.Create(["END", "\n\n"], 42, 0.5, -1.5, """{"type":"json_object"}""", modelOnly: true,
                keepNothing: true), traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        await requests.AddAsync(request, None);

        AssertSame(await requests.GetAsync(request.Id, None), request);
    }

    [Test]
    public async Task RelayRequest_WhenNew_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var session = await AddSessionAsync(scope.ServiceProvider, owner);
        var request = await AddRequestAsync(scope.ServiceProvider, session, owner, At(1));

        var stored = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>().GetAsync(request.Id, None);

        AssertSame(stored, request);
        Assert.That(stored!.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(stored.TimeoutReason, Is.Null);
    }

    [Test]
    public async Task RelayRequest_Update_StoresEveryMutableField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var session = await AddSessionAsync(scope.ServiceProvider, owner);
        var requests = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var request = await AddRequestAsync(scope.ServiceProvider, session, owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2));
        request.Acknowledge(At(3));
        request.ReceivePartial(4, At(4));
        request.TimeOut(RelayTimeoutReason.NoAck, At(5));
        request.FallBack(MessageId.New(), At(6));

        await requests.UpdateAsync(request, None);
        var stored = await requests.GetAsync(request.Id, None);

        AssertSame(stored, request);
        Assert.That(stored!.Status, Is.EqualTo(RelayRequestStatus.Fallback));
    }

    [Test]
    public async Task RelayRequest_Update_StoresTheError()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var session = await AddSessionAsync(scope.ServiceProvider, owner);
        var requests = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var request = await AddRequestAsync(scope.ServiceProvider, session, owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2));
        request.Fail("model_load_failed", null, At(3));

        await requests.UpdateAsync(request, None);

        AssertSame(await requests.GetAsync(request.Id, None), request);
    }

    [Test]
    public async Task Get_WhenIdUnknown_ReturnsNull()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;

        Assert.That(await services.GetRequiredService<IUserRepository>().GetAsync(UserId.New(), None), Is.Null);
        Assert.That(await services.GetRequiredService<IApiKeyRepository>().GetAsync(ApiKeyId.New(), None), Is.Null);
        Assert.That(await services.GetRequiredService<IApiKeyRepository>().GetByPrefixAsync("ml_none", None), Is.Null);
        Assert.That(await services.GetRequiredService<IChatSessionRepository>().GetAsync(SessionId.New(), None), Is.Null);
        Assert.That(await services.GetRequiredService<IMessageRepository>().GetAsync(MessageId.New(), None), Is.Null);
        Assert.That(await services.GetRequiredService<IRelayRequestRepository>().GetAsync(RelayRequestId.New(), None),
            Is.Null);
    }

    [Test]
    public async Task MetricsRecorder_StoresOneRowPerAnswer()
    {
        await using var scope = Db.Scope();
        var metric = new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(9), 120, 340, null, 50, 7, true,
            "fallback:NoWorker");

        await scope.ServiceProvider.GetRequiredService<IMetricsRecorder>().RecordAsync(metric, None);

        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM metrics"), Is.EqualTo(1));
        Assert.That(await Db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM metrics WHERE request_id = '{metric.RequestId}' AND session_id = '{metric.SessionId}' " +
            "AND queue_ms = 120 AND relay_ms = 340 AND inference_ms IS NULL AND prompt_tokens = 50 " +
            $"AND completion_tokens = 7 AND fallback AND outcome = 'fallback:NoWorker' AND recorded_at = {Db.InstantLiteral(At(9))}"),
            Is.EqualTo(1), "every field is stored as given");
    }

    [Test]
    public async Task MetricsRecorder_StoresTheEnginesTimings()
    {
        await using var scope = Db.Scope();
        var metric = new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(9), 1, 2, 300, 50, 7, false, "completed",
            PromptMs: 12.5, GenerationMs: 250.25);

        await scope.ServiceProvider.GetRequiredService<IMetricsRecorder>().RecordAsync(metric, None);

        Assert.That(await Db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM metrics WHERE request_id = '{metric.RequestId}' AND prompt_ms = 12.5 " +
            "AND generation_ms = 250.25 AND inference_ms = 300"), Is.EqualTo(1));
    }

    [Test]
    public async Task Metrics_RecordTheModelAndTheHost_AndNullsForAFallback()
    {
        await using var scope = Db.Scope();
        var host = Guid.NewGuid();
        var answered = new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(9), 1, 2, 300, 50, 7, false, "completed")
        {
            Model = "qwen-7b",
            WorkerId = host,
        };
        var fallback = new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(9), 1, 2, null, 0, 3, true, "fallback:NoWorker");
        var recorder = scope.ServiceProvider.GetRequiredService<IMetricsRecorder>();

        await recorder.RecordAsync(answered, None);
        await recorder.RecordAsync(fallback, None);

        Assert.That(await Db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM metrics WHERE request_id = '{answered.RequestId}' AND model = 'qwen-7b' AND worker_id = '{host}'"),
            Is.EqualTo(1), "the answer's model and host");
        Assert.That(await Db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM metrics WHERE request_id = '{fallback.RequestId}' AND model IS NULL AND worker_id IS NULL"),
            Is.EqualTo(1), "a fallback has neither");
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

    private static void AssertSame(ChatSession? actual, ChatSession expected) => AssertSameChat(actual, expected);

    private static void AssertSame(Message? actual, Message expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(actual!.Id, Is.EqualTo(expected.Id));
            Assert.That(actual.SessionId, Is.EqualTo(expected.SessionId));
            Assert.That(actual.Role, Is.EqualTo(expected.Role));
            Assert.That(actual.Content, Is.EqualTo(expected.Content));
            Assert.That(actual.Source, Is.EqualTo(expected.Source));
            Assert.That(actual.Tokens, Is.EqualTo(expected.Tokens));
            Assert.That(actual.RequestId, Is.EqualTo(expected.RequestId));
            Assert.That(actual.CreatedAt, Is.EqualTo(expected.CreatedAt));
            Assert.That(actual.Model, Is.EqualTo(expected.Model));
            Assert.That(actual.Finish, Is.EqualTo(expected.Finish));
        });
    }

    private static void AssertSame(RelayRequest? actual, RelayRequest expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(actual!.Id, Is.EqualTo(expected.Id));
            Assert.That(actual.SessionId, Is.EqualTo(expected.SessionId));
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

    [Test]
    public async Task Queue_KeepsTheRequestsGenerationOptions()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var state = await services.GetRequiredService<IChatSessionRepository>().GetWithAnswerStateAsync(chat.Id, None);
        var message = chat.PostUserMessage(owner, PromptText.From("json please"), At(1));
        var options = GenerationOptions.Create(["}"], seed: 7, responseFormat: """{"type":"json_object"}""", modelOnly: true);
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(1), options);

        var requests = services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await requests.TryQueueAsync(state!.Session, state.Version, message, request, None), Is.Not.Null);

        Assert.That((await requests.GetAsync(request.Id, None))!.Options, Is.EqualTo(options));
    }

    [Test]
    public async Task Queue_KeepsTheTraceContextOfTheSend_AndDispatchingKeepsIt()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var state = await services.GetRequiredService<IChatSessionRepository>().GetWithAnswerStateAsync(chat.Id, None);
        var message = chat.PostUserMessage(owner, PromptText.From("trace me"), At(1));
        const string traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(1),
            traceParent: traceParent);

        var requests = services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await requests.TryQueueAsync(state!.Session, state.Version, message, request, None), Is.Not.Null);
        var queued = await requests.GetAsync(request.Id, None);
        queued!.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await requests.TryUpdateManyAsync([queued], RelayRequestStatus.Pending, None);

        var dispatched = await requests.GetAsync(request.Id, None);
        Assert.Multiple(() =>
        {
            Assert.That(queued.TraceParent, Is.EqualTo(traceParent));
            Assert.That(dispatched!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
            Assert.That(dispatched.TraceParent, Is.EqualTo(traceParent));
        });
    }

    [Test]
    public async Task DeletingAChat_LeavesNothingOfIt_AndOtherChatsStay()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var gone = await AddSessionAsync(services, owner);
        var kept = await AddSessionAsync(services, owner);
        var goneRequest = await AddRequestAsync(services, gone, owner, At(1));
        var keptRequest = await AddRequestAsync(services, kept, owner, At(2));
        await AddMessageAsync(services, gone, MessageSource.Model, "an answer", At(3));

        await services.GetRequiredService<IChatSessionRepository>().DeleteAsync(gone.Id, None);
        await services.GetRequiredService<IChatSessionRepository>().DeleteAsync(gone.Id, None); // gone already: no error

        var sessions = services.GetRequiredService<IChatSessionRepository>();
        var reads = services.GetRequiredService<IChatReadModel>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await sessions.GetAsync(gone.Id, None), Is.Null);
        Assert.That(await reads.GetTranscriptAsync(gone.Id, None), Is.Empty);
        Assert.That(await requests.GetAsync(goneRequest.Id, None), Is.Null);
        Assert.That(await sessions.GetAsync(kept.Id, None), Is.Not.Null);
        Assert.That(await requests.GetAsync(keptRequest.Id, None), Is.Not.Null);
        Assert.That(await reads.GetTranscriptAsync(kept.Id, None), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task FindChatsEndingWith_FindsTheOwnersOpenChatsWhoseLastMessageIsThatAnswer()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var other = await AddUserAsync(services);
        var older = await AddSessionAsync(services, owner, At(1));
        var newer = await AddSessionAsync(services, owner, At(2));
        var answeredOtherwise = await AddSessionAsync(services, owner, At(3));
        var someoneElses = await AddSessionAsync(services, other, At(4));
        var askedAgain = await AddSessionAsync(services, owner, At(5));
        foreach (var chat in new[] { older, newer, someoneElses, askedAgain })
        {
            await AddMessageAsync(services, chat, MessageSource.User, "q", At(6));
            await AddMessageAsync(services, chat, MessageSource.Model, "the answer", At(7));
        }

        await AddMessageAsync(services, answeredOtherwise, MessageSource.Model, "another answer", At(7));
        await AddMessageAsync(services, askedAgain, MessageSource.User, "the answer", At(8));

        var found = await services.GetRequiredService<IChatReadModel>()
            .FindChatsEndingWithAsync(owner.Id, "the answer", 5, None);

        Assert.That(found, Is.EquivalentTo(new[] { older.Id, newer.Id }));
        Assert.That(await services.GetRequiredService<IChatReadModel>()
            .FindChatsEndingWithAsync(owner.Id, "the answer", 1, None), Has.Count.EqualTo(1));
    }
}
