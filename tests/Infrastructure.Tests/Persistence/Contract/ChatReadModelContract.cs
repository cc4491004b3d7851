using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

public abstract class ChatReadModelContract : ScopedDatabaseContract
{
    private IChatReadModel _reads = null!;
    private User _owner = null!;
    private Chat _session = null!;

    [SetUp]
    public async Task SetUp()
    {
        _reads = Services.GetRequiredService<IChatReadModel>();
        _owner = await AddUserAsync(Services);
        _session = await AddSessionAsync(Services, _owner);
    }

    [Test]
    public async Task GetMessagesPage_WithoutCursor_ReturnsTheNewestLimitOldestFirst()
    {
        await AddNumberedMessagesAsync(_session, 5);

        var page = await _reads.GetMessagesPageAsync(_session.Id, null, 3, None);

        Assert.That(page.Select(m => m.Content), Is.EqualTo(new[] { "m3", "m4", "m5" }));
    }

    [Test]
    public async Task GetMessagesPage_WithCursor_ReturnsTheNewestLimitStrictlyBeforeIt()
    {
        var messages = await AddNumberedMessagesAsync(_session, 6);

        var page = await _reads.GetMessagesPageAsync(_session.Id, messages[4].Id, 2, None);

        Assert.That(page.Select(m => m.Content), Is.EqualTo(new[] { "m3", "m4" }));
    }

    [Test]
    public async Task GetMessagesPage_NearTheStart_ReturnsWhatIsLeft()
    {
        var messages = await AddNumberedMessagesAsync(_session, 4);

        var afterFirst = await _reads.GetMessagesPageAsync(_session.Id, messages[1].Id, 10, None);
        var beforeFirst = await _reads.GetMessagesPageAsync(_session.Id, messages[0].Id, 10, None);

        Assert.That(afterFirst.Select(m => m.Content), Is.EqualTo(new[] { "m1" }));
        Assert.That(beforeFirst, Is.Empty);
    }

    [Test]
    public async Task GetMessagesPage_OrdersByStorageOrderNotByTimestamp()
    {
        // Same millisecond, and a clock that stepped back: the order they were stored in still holds.
        await AddMessageAsync(Services, _session, MessageSource.User, "first", At(5));
        var second = await AddMessageAsync(Services, _session, MessageSource.Model, "second", At(5));
        await AddMessageAsync(Services, _session, MessageSource.User, "third", At(4));

        var all = await _reads.GetMessagesPageAsync(_session.Id, null, 10, None);
        var beforeSecond = await _reads.GetMessagesPageAsync(_session.Id, second.Id, 10, None);

        Assert.That(all.Select(m => m.Content), Is.EqualTo(new[] { "first", "second", "third" }));
        Assert.That(beforeSecond.Select(m => m.Content), Is.EqualTo(new[] { "first" }));
    }

    [Test]
    public async Task GetMessagesPage_WithUnknownCursor_ReturnsNothing()
    {
        await AddNumberedMessagesAsync(_session, 3);

        var page = await _reads.GetMessagesPageAsync(_session.Id, MessageId.New(), 10, None);

        Assert.That(page, Is.Empty);
    }

    [Test]
    public async Task GetMessagesPage_WithCursorFromAnotherSession_ReturnsNothing()
    {
        await AddNumberedMessagesAsync(_session, 3);
        var other = await AddSessionAsync(Services, _owner);
        var foreign = await AddMessageAsync(Services, other, MessageSource.User, "elsewhere");

        var page = await _reads.GetMessagesPageAsync(_session.Id, foreign.Id, 10, None);

        Assert.That(page, Is.Empty);
    }

    [Test]
    public async Task GetMessagesPage_OnlyReturnsMessagesOfTheSession()
    {
        await AddNumberedMessagesAsync(_session, 2);
        var other = await AddSessionAsync(Services, _owner);
        await AddMessageAsync(Services, other, MessageSource.User, "elsewhere");

        var page = await _reads.GetMessagesPageAsync(_session.Id, null, 10, None);

        Assert.That(page.Select(m => m.Content), Is.EqualTo(new[] { "m1", "m2" }));
    }

    [Test]
    public async Task GetMessagesPage_MapsEveryFieldLikeTheDtoProfile()
    {
        var requestId = RelayRequestId.New();
        var answer = Message.Answer(_session.Id, requestId, "An answer", MessageSource.Fallback,
            new TokenCounts(10, 5), At(3));
        await Services.GetRequiredService<IMessageRepository>().AddAsync(answer, None);
        var question = await AddMessageAsync(Services, _session, MessageSource.User, "A question", At(4));

        var page = await _reads.GetMessagesPageAsync(_session.Id, null, 10, None);

        // The page adds each turn's versions (one here) to the DTO's fields.
        Assert.That(page.Select(m => (m.SiblingIds?.Single(), m.SiblingIndex, m.SiblingCount)),
            Is.EqualTo(new[] { (answer.Id.Value, 0, 1), (question.Id.Value, 0, 1) }));
        Assert.That(page[0] with { SiblingIds = null, SiblingIndex = null, SiblingCount = null }, Is.EqualTo(new MessageDto(
            answer.Id.Value, _session.Id.Value, "assistant", "An answer", "fallback", At(3), new TokensDto(10, 5, 15),
            requestId.Value)));
        Assert.That(page[1] with { SiblingIds = null, SiblingIndex = null, SiblingCount = null }, Is.EqualTo(new MessageDto(
            question.Id.Value, _session.Id.Value, "user", "A question", "user", At(4), null, null,
            ParentId: answer.Id.Value)));
    }

    [Test]
    public async Task GetTranscript_ReturnsEveryMessageOldestFirst()
    {
        await AddNumberedMessagesAsync(_session, 4);
        await AddMessageAsync(Services, _session, MessageSource.Notice, "host offline");

        var transcript = await _reads.GetTranscriptAsync(_session.Id, false, None);

        Assert.That(transcript.Select(m => m.Content), Is.EqualTo(new[] { "m1", "m2", "m3", "m4", "host offline" }));
    }

    [Test]
    public async Task GetRecentTurns_ExcludesFallbackAndNotice_AndReturnsTheNewestOldestFirst()
    {
        await AddMessageAsync(Services, _session, MessageSource.User, "q1");
        await AddMessageAsync(Services, _session, MessageSource.Model, "a1");
        await AddMessageAsync(Services, _session, MessageSource.User, "q2");
        await AddMessageAsync(Services, _session, MessageSource.Fallback, "markov babble");
        await AddMessageAsync(Services, _session, MessageSource.User, "q3");
        await AddMessageAsync(Services, _session, MessageSource.Notice, "the model host is offline");

        var turns = await _reads.GetRecentTurnsAsync(_session.Id, 3, None);

        Assert.That(turns, Is.EqualTo(new[]
        {
            new ChatTurn(MessageRole.Assistant, "a1"),
            new ChatTurn(MessageRole.User, "q2"),
            new ChatTurn(MessageRole.User, "q3"),
        }));
    }

    [Test]
    public async Task ListSessions_ReturnsTheOwnersSessionsMostRecentlyUpdatedFirst()
    {
        var older = await AddSessionAsync(Services, _owner, At(10), "older");
        var newest = await AddSessionAsync(Services, _owner, At(5), "newest");
        newest.Touch(At(20));
        await Services.GetRequiredService<IChatRepository>().UpdateAsync(newest, None);
        var stranger = await AddUserAsync(Services);
        await AddSessionAsync(Services, stranger, At(30), "not mine");

        var chats = await _reads.ListSessionsAsync(_owner.Id, None);

        Assert.That(chats.Select(s => s.Id),
            Is.EqualTo(new[] { newest.Id.Value, older.Id.Value, _session.Id.Value }));
    }

    [Test]
    public async Task ListSessions_MapsEveryFieldLikeTheDtoProfile()
    {
        var owner = await AddUserAsync(Services);
        var chat = Chat.Restore(ChatId.New(), owner.Id, ChatTitle.From("Poems"), ChatStatus.Closed,
            ModelName.From("gemma:2b"), SystemPrompt.FromOptional("Rhyme."), SamplingParameters.Create(0.3, 0.8, 100),
            At(1), At(2), At(3));
        await Services.GetRequiredService<IChatRepository>().AddAsync(chat, None);

        var chats = await _reads.ListSessionsAsync(owner.Id, None);

        Assert.That(chats, Is.EqualTo(new[]
        {
            new SessionDto(chat.Id.Value, "Poems", "closed", "gemma:2b", "Rhyme.", 0.3, 0.8, 100, At(1), At(2), At(3)),
        }));
    }

    [Test]
    public async Task ListApiKeys_ReturnsTheOwnersUsableKeysOnly()
    {
        var keys = Services.GetRequiredService<IApiKeyRepository>();
        var used = ApiKey.Issue(_owner, "laptop", "ml_laptop", "h1", At(1));
        used.MarkUsed(At(4));
        var revoked = ApiKey.Issue(_owner, "old", "ml_oldkey", "h2", At(2));
        revoked.Revoke(At(3));
        var stranger = await AddUserAsync(Services);
        await keys.AddAsync(used, None);
        await keys.AddAsync(revoked, None);
        await keys.AddAsync(ApiKey.Issue(stranger, "theirs", "ml_theirs", "h3", At(1)), None);

        var listed = await _reads.ListApiKeysAsync(_owner.Id, None);

        Assert.That(listed, Is.EqualTo(new[] { new ApiKeyDto(used.Id.Value, "laptop", "ml_laptop", At(1), At(4)) }));
    }

    [Test]
    public async Task CountWaitingForModel_CountsPendingRequestsInChatsOfThatModel_AndOfNoneForTheDefault()
    {
        var chats = Services.GetRequiredService<IChatRepository>();
        var requests = Services.GetRequiredService<IRelayRequestRepository>();
        async Task<RelayRequest> InChatOf(string? model)
        {
            var chat = Chat.Start(_owner, null, ModelName.FromOptional(model), null, null, T0);
            await chats.AddAsync(chat, None);
            return await AddRequestAsync(Services, chat, _owner, At(1));
        }

        await InChatOf("alpha");
        await InChatOf("alpha");
        var sent = await InChatOf("alpha");
        sent.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await requests.UpdateAsync(sent, None);
        await InChatOf("beta");
        await InChatOf(null);

        Assert.That(await _reads.CountWaitingForModelAsync("alpha", false, None), Is.EqualTo(2), "the dispatched one is not waiting");
        Assert.That(await _reads.CountWaitingForModelAsync("beta", false, None), Is.EqualTo(1));
        Assert.That(await _reads.CountWaitingForModelAsync("beta", true, None), Is.EqualTo(2), "beta as the default: chats of none count");
        Assert.That(await _reads.CountWaitingForModelAsync("gamma", false, None), Is.Zero);
        Assert.That(await _reads.CountWaitingByModelAsync(None),
            Is.EquivalentTo(new Dictionary<string, int> { ["alpha"] = 2, ["beta"] = 1, [""] = 1 }));
    }

    [Test]
    public async Task CountQueued_CountsPendingDispatchedAndStreamingOnly()
    {
        var requests = Services.GetRequiredService<IRelayRequestRepository>();
        await AddRequestAsync(Services, _session, _owner, At(1));
        // Each in a chat of its own: a chat holds one unfinished request at a time.
        var dispatched = await AddRequestAsync(Services, await AddSessionAsync(Services, _owner), _owner, At(2));
        dispatched.Dispatch(At(3), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await requests.UpdateAsync(dispatched, None);
        var streaming = await AddRequestAsync(Services, await AddSessionAsync(Services, _owner), _owner, At(3));
        streaming.Dispatch(At(3), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        streaming.ReceivePartial(1, At(4));
        await requests.UpdateAsync(streaming, None);
        var done = await AddRequestAsync(Services, await AddSessionAsync(Services, _owner), _owner, At(4));
        done.Cancel(At(5));
        await requests.UpdateAsync(done, None);

        Assert.That(await _reads.CountQueuedAsync(None), Is.EqualTo(3));
    }

    [Test]
    public async Task QueuePosition_CountsThePendingRequestsAheadInDispatchOrder()
    {
        var requests = Services.GetRequiredService<IRelayRequestRepository>();
        var other = await AddSessionAsync(Services, _owner);
        var first = await AddRequestAsync(Services, _session, _owner, At(1));
        var dispatched = await AddRequestAsync(Services, other, _owner, At(2));
        dispatched.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await requests.UpdateAsync(dispatched, None);
        // Each unfinished request in a chat of its own: a chat holds one at a time.
        var sameInstantA = await AddRequestAsync(Services, await AddSessionAsync(Services, _owner), _owner, At(3));
        var sameInstantB = await AddRequestAsync(Services, await AddSessionAsync(Services, _owner), _owner, At(3));

        Assert.That(await _reads.GetQueuePositionAsync(first.Id, None), Is.EqualTo(1));
        Assert.That(await _reads.GetQueuePositionAsync(sameInstantA.Id, None), Is.EqualTo(2), "stored first, goes first");
        Assert.That(await _reads.GetQueuePositionAsync(sameInstantB.Id, None), Is.EqualTo(3));
        Assert.That(await _reads.GetQueuePositionAsync(dispatched.Id, None), Is.Zero, "no longer queued");
        Assert.That(await _reads.GetQueuePositionAsync(RelayRequestId.New(), None), Is.Zero);
    }

    [Test]
    public async Task GetModelAnswers_ReturnsTheOwnersModelAnswersNewestFirst()
    {
        await AddMessageAsync(Services, _session, MessageSource.Model, "old answer");
        await AddMessageAsync(Services, _session, MessageSource.User, "a question");
        await AddMessageAsync(Services, _session, MessageSource.Fallback, "babble");
        await AddMessageAsync(Services, _session, MessageSource.Notice, "offline");
        await AddMessageAsync(Services, _session, MessageSource.Model, "middle answer");
        var other = await AddSessionAsync(Services, _owner);
        await AddMessageAsync(Services, other, MessageSource.Model, "new answer");

        var answers = await _reads.GetModelAnswersAsync(_owner.Id, 2, None);

        Assert.That(answers, Is.EqualTo(new[] { "new answer", "middle answer" }));
    }

    [Test]
    public async Task GetModelAnswers_LeavesOutOtherUsersChats()
    {
        await AddMessageAsync(Services, _session, MessageSource.Model, "mine");
        var stranger = await AddUserAsync(Services);
        await AddMessageAsync(Services, await AddSessionAsync(Services, stranger), MessageSource.Model, "theirs");

        Assert.That(await _reads.GetModelAnswersAsync(_owner.Id, 10, None), Is.EqualTo(new[] { "mine" }));
        Assert.That(await _reads.GetModelAnswersAsync(stranger.Id, 10, None), Is.EqualTo(new[] { "theirs" }));
        Assert.That(await _reads.GetModelAnswersAsync(UserId.New(), 10, None), Is.Empty);
    }

    [Test]
    public async Task MarkovFallback_NeverHandsOneUsersRarePhraseToAnother_WhileTheOwnerGetsIt()
    {
        // Stored by this host; the fallback runs in another (like the server bot), so it can only know from the store.
        await AddMessageAsync(Services, _session, MessageSource.Model, "Your locker code is quokka xylophone marmalade.");
        var stranger = await AddUserAsync(Services);
        await AddMessageAsync(Services, await AddSessionAsync(Services, stranger), MessageSource.Model,
            "Lizards enjoy warm rocks in the afternoon sun.");
        var fallback = MarkovFallbackOnAnotherHost(new Infrastructure.Tests.TestDoubles.FakeClock());
        const string Probe = "What is the quokka xylophone marmalade locker code?";

        var strangers = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            strangers.Add((await fallback.ReplyAsync(stranger.Id, Probe, RelayTimeoutReason.NoWorker, None)).Content);
        }

        var owners = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            owners.Add((await fallback.ReplyAsync(_owner.Id, Probe, RelayTimeoutReason.NoWorker, None)).Content);
        }

        Assert.Multiple(() =>
        {
            Assert.That(strangers, Has.None.Contains("quokka").IgnoreCase.And.None.Contains("xylophone").IgnoreCase.And.None.Contains("marmalade").IgnoreCase);
            Assert.That(owners, Has.All.Contains("xylophone").IgnoreCase, "the owner's rarest keyword starts every reply");
        });
    }

    [Test]
    public async Task MarkovFallback_LearnsAnswersStoredByAnotherProcess_OnceItsChainIsRefreshed()
    {
        var clock = new Infrastructure.Tests.TestDoubles.FakeClock();
        var fallback = MarkovFallbackOnAnotherHost(clock);
        const string Probe = "Tell me about the pangolin cathedral";
        var before = await fallback.ReplyAsync(_owner.Id, Probe, RelayTimeoutReason.NoWorker, None);

        await AddMessageAsync(Services, _session, MessageSource.Model, "The pangolin cathedral opens at nine.");
        clock.Advance(Infrastructure.Inference.Fallback.UserFallbackChains.Lifetime);
        var after = await fallback.ReplyAsync(_owner.Id, Probe, RelayTimeoutReason.NoWorker, None);

        Assert.Multiple(() =>
        {
            Assert.That(before.Content, Does.Not.Contain("pangolin").IgnoreCase);
            Assert.That(after.Content, Does.Contain("pangolin").IgnoreCase);
        });
    }

    [Test]
    public async Task GetChannelHolders_ListsOpenChatsWithAChannel_LeastRecentlyUsedFirst_MarkingThoseWithARequestInFlight()
    {
        var idleButRecent = await WithChannelAsync(_session, "101");
        var stale = await WithChannelAsync(await AddSessionAsync(Services, _owner), "102");
        var busy = await WithChannelAsync(await AddSessionAsync(Services, _owner), "103");
        await AddSessionAsync(Services, _owner); // no channel
        var closed = await WithChannelAsync(await AddSessionAsync(Services, _owner), "104");
        var stranger = await AddUserAsync(Services);
        var theirs = await WithChannelAsync(await AddSessionAsync(Services, stranger), "105");
        await AddMessageAsync(Services, stale, MessageSource.Model, "long ago");
        await AddRequestAsync(Services, busy, _owner, At(1));
        await AddMessageAsync(Services, theirs, MessageSource.Model, "theirs");
        await AddMessageAsync(Services, idleButRecent, MessageSource.Model, "just now");
        closed.CloseAsOperator(At(2));
        await Services.GetRequiredService<IChatRepository>().UpdateAsync(closed, None);

        var mine = await _reads.GetChannelHoldersAsync(_owner.Id, None);
        var everyone = await _reads.GetChannelHoldersAsync(null, None);

        Assert.That(mine.Select(h => (h.ChannelId, h.Busy)), Is.EqualTo(new[] { ("102", false), ("103", true), ("101", false) }));
        Assert.That(mine.Select(h => h.ChatId), Is.EqualTo(new[] { stale.Id, busy.Id, idleButRecent.Id }));
        Assert.That(mine, Has.All.Property(nameof(ChannelHolder.OwnerId)).EqualTo(_owner.Id));
        Assert.That(everyone.Select(h => h.ChannelId), Is.EqualTo(new[] { "102", "103", "105", "101" }));
        Assert.That(everyone.Single(h => h.ChannelId == "105").OwnerId, Is.EqualTo(stranger.Id));
    }

    private async Task<Chat> WithChannelAsync(Chat chat, string channelId)
    {
        await Services.GetRequiredService<IRelayChatChannels>().AssignAsync(chat.Id, channelId, None);
        return chat;
    }

    /// <summary>A Markov fallback in a second host on the same database, which never saw this host's answers.</summary>
    private Infrastructure.Inference.Fallback.FallbackResponder MarkovFallbackOnAnotherHost(IClock clock)
    {
        var host = Db.StartHost();
        return new Infrastructure.Inference.Fallback.FallbackResponder(
            new Infrastructure.Tests.TestDoubles.TestOptionsMonitor<FallbackOptions>(new FallbackOptions { Mode = FallbackMode.Markov }),
            new Infrastructure.Tests.TestDoubles.TestRuntimeSettings(),
            new Infrastructure.Inference.Fallback.UserFallbackChains(host.GetRequiredService<IServiceScopeFactory>(), clock,
                Microsoft.Extensions.Logging.Abstractions.NullLogger<Infrastructure.Inference.Fallback.UserFallbackChains>.Instance));
    }

    private async Task<List<Message>> AddNumberedMessagesAsync(Chat chat, int count)
    {
        var messages = new List<Message>();
        for (var i = 1; i <= count; i++)
        {
            var source = i % 2 == 1 ? MessageSource.User : MessageSource.Model;
            messages.Add(await AddMessageAsync(Services, chat, source, $"m{i}", At(i)));
        }

        return messages;
    }
}
