using MeatLizard.Application.Abstractions;
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

/// <summary>Claiming queued requests: oldest first, users in turns, leases, the chat and turns carried, several hosts at once.</summary>
public abstract partial class RelayQueueContract
{
    [Test]
    public async Task ClaimPending_ReturnsTheOldestPendingUpToMax_AndLeasesThemToTheCaller()
    {
        var newer = await AddRequestInOwnChatAsync(At(3));
        var oldest = await AddRequestInOwnChatAsync(At(1));
        var middle = await AddRequestInOwnChatAsync(At(2));
        var sent = await AddRequestInOwnChatAsync(At(0));
        await DispatchAsync(sent);

        var first = await ClaimAsync(2, At(10), At(40));
        var second = await ClaimAsync(10, At(11), At(41));
        var third = await ClaimAsync(10, At(12), At(42));

        Assert.That(first.Select(r => r.Id), Is.EqualTo(new[] { oldest.Id, middle.Id }));
        Assert.That(second.Select(r => r.Id), Is.EqualTo(new[] { newer.Id }), "leased requests are skipped");
        Assert.That(third, Is.Empty);
        Assert.That(first.Concat(second).Select(r => r.Status), Is.All.EqualTo(RelayRequestStatus.Pending));
    }

    [Test]
    public async Task ClaimPending_TakesUsersInTurns_EachUsersOldestBeforeAnyonesSecond()
    {
        var heavy = new[] { await AddRequestInOwnChatAsync(At(1)), await AddRequestInOwnChatAsync(At(2)),
            await AddRequestInOwnChatAsync(At(3)) };
        var bob = await AddUserAsync(Services);
        var bobs = await AddRequestAsync(Services, await AddSessionAsync(Services, bob), bob, At(4));

        var claimed = await ClaimAsync(2, At(10), At(40));
        var rest = await ClaimAsync(10, At(11), At(41));

        Assert.That(claimed.Select(r => r.Id), Is.EquivalentTo(new[] { heavy[0].Id, bobs.Id }),
            "bob's only request is in the first turn, although three of the owner's are older");
        Assert.That(rest.Select(r => r.Id), Is.EquivalentTo(new[] { heavy[1].Id, heavy[2].Id }));
    }

    [Test]
    public async Task ReleaseClaims_PutsStillPendingRequestsBackAtOnce_ButNotOnesDispatchedMeanwhile()
    {
        var waiting = await AddRequestInOwnChatAsync(At(1));
        var sent = await AddRequestInOwnChatAsync(At(2));
        var claimed = await ClaimAsync(5, At(10), At(40));
        await DispatchAsync(claimed.Single(r => r.Id == sent.Id));

        await _requests.ReleaseClaimsAsync([waiting.Id, sent.Id], None);

        Assert.That((await ClaimAsync(5, At(11), At(41))).Select(r => r.Id), Is.EqualTo(new[] { waiting.Id }),
            "claimable again long before its lease (At 40) runs out");
        Assert.That((await _requests.GetAsync(sent.Id, None))!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
    }

    [Test]
    public async Task ClaimsHeld_AreEachClaimersEarliestLeaseStillRunningOnAPendingRequest()
    {
        // A dispatcher that died holding claims leaves them to the others when the leases run out: this is when, and
        // whose they are (a run known to be dead leaves them at once).
        const string other = "other-host:99:run";
        Assert.That(await _requests.ListClaimsHeldAsync(At(10), None), Is.Empty, "nothing claimed");
        var first = await AddRequestInOwnChatAsync(At(1));
        await ClaimAsync(1, At(10), At(40));
        var second = await AddRequestInOwnChatAsync(At(2));
        await ClaimAsync(1, At(12), At(30));
        await AddRequestInOwnChatAsync(At(3));
        await DispatchAsync((await ClaimAsync(1, At(13), At(20))).Single());
        var others = await AddRequestInOwnChatAsync(At(4));
        await ClaimAsync(1, At(13), At(35), claimer: other);

        Assert.That(await _requests.ListClaimsHeldAsync(At(14), None),
            Is.EqualTo(new[] { new HeldClaims(Claimer, At(30)), new HeldClaims(other, At(35)) }),
            "each claimer's earliest lease on a request still pending (not the one dispatched meanwhile), earliest first");
        Assert.That(await _requests.ListClaimsHeldAsync(At(30), None),
            Is.EqualTo(new[] { new HeldClaims(other, At(35)), new HeldClaims(Claimer, At(40)) }),
            "a lease run out is no longer held");
        await _requests.ReleaseClaimsAsync([first.Id, second.Id, others.Id], None);
        Assert.That(await _requests.ListClaimsHeldAsync(At(14), None), Is.Empty, "given back");
    }

    [Test]
    public async Task ReleaseClaimsOf_GivesBackOnlyThatClaimersStillPendingRequests_AtOnce()
    {
        // A server bot killed mid-dispatch: its run is known to be dead, and a live dispatcher need not wait out its leases.
        const string dead = "dead-host:77:run";
        var waiting = await AddRequestInOwnChatAsync(At(1));
        var sent = await AddRequestInOwnChatAsync(At(2));
        var deads = await ClaimAsync(5, At(10), At(40), claimer: dead);
        await DispatchAsync(deads.Single(r => r.Id == sent.Id));
        await AddRequestInOwnChatAsync(At(3));
        await ClaimAsync(5, At(11), At(41));

        Assert.That(await _requests.ReleaseClaimsOfAsync(dead, None), Is.EqualTo(1), "the one still pending");

        Assert.That((await ClaimAsync(5, At(12), At(42))).Select(r => r.Id), Is.EqualTo(new[] { waiting.Id }),
            "claimable again long before its lease (At 40) runs out; the live claimer's request is still its own");
        Assert.That((await _requests.GetAsync(sent.Id, None))!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(await _requests.ListClaimsHeldAsync(At(12), None),
            Is.EqualTo(new[] { new HeldClaims(Claimer, At(41)) }), "the live claimer keeps its own");
        Assert.That(await _requests.ReleaseClaimsOfAsync(dead, None), Is.Zero, "nothing left of the dead run's");
    }

    [Test]
    public async Task ClaimPending_AfterTheLeaseRanOut_ClaimsTheRequestAgain()
    {
        // The dispatcher that claimed it died before dispatching: the request must not stay stuck.
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        Assert.That((await ClaimAsync(5, At(10), At(40))).Select(r => r.Id),
            Is.EqualTo(new[] { request.Id }));

        var beforeExpiry = await ClaimAsync(5, At(39), At(69));
        var afterExpiry = await ClaimAsync(5, At(40), At(70));

        Assert.That(beforeExpiry, Is.Empty);
        Assert.That(afterExpiry.Select(r => r.Id), Is.EqualTo(new[] { request.Id }));
    }

    [Test]
    public async Task ClaimPending_OnceDispatched_NeverClaimsTheRequestAgain()
    {
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        var claimed = (await ClaimAsync(5, At(10), At(40))).Single();
        await DispatchAsync(claimed);

        Assert.That(await ClaimAsync(5, At(100), At(130)), Is.Empty);
        Assert.That((await _requests.GetAsync(request.Id, None))!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
    }

    [Test]
    public async Task ClaimPending_CarriesEachRequestsChat_AndTheNewestTurnsTheModelSees_OldestFirst()
    {
        // Interleaved writes, so a chat's turns are not contiguous in insertion order.
        var chats = Services.GetRequiredService<IChatRepository>();
        var second = Chat.Restore(ChatId.New(), _owner.Id, ChatTitle.From("Trip planning"),
            ChatStatus.Active, ModelName.From("mistral:7b"), SystemPrompt.FromOptional("You are a travel agent."),
            SamplingParameters.Create(0.7, 0.95, 512), At(1), At(2), null);
        await chats.AddAsync(second, None);
        var silent = await AddSessionAsync(Services, _owner, At(2), "no turns");
        var notClaimed = await AddSessionAsync(Services, _owner, At(3), "nothing asked");
        for (var i = 1; i <= 5; i++)
        {
            await AddMessageAsync(Services, _session, MessageSource.User, $"a-q{i}");
            await AddMessageAsync(Services, second, MessageSource.User, $"b-q{i}");
            await AddMessageAsync(Services, _session, i == 4 ? MessageSource.Fallback : MessageSource.Model, $"a-r{i}");
            await AddMessageAsync(Services, second, i == 5 ? MessageSource.Notice : MessageSource.Model, $"b-r{i}");
            await AddMessageAsync(Services, notClaimed, MessageSource.User, $"c-q{i}");
        }

        await AddMessageAsync(Services, silent, MessageSource.Notice, "the model host is offline");
        // Each request's question (AddRequestAsync stores it) is its chat's newest turn.
        var first = await AddRequestAsync(Services, _session, _owner, At(10));
        var fromSecond = await AddRequestAsync(Services, second, _owner, At(11));
        var fromSilent = await AddRequestAsync(Services, silent, _owner, At(12));

        var claimed = await _requests.ClaimPendingAsync(10, 4, At(20), At(50), Claimer, None);

        Assert.That(claimed.Select(c => c.Request.Id), Is.EqualTo(new[] { first.Id, fromSecond.Id, fromSilent.Id }));
        AssertSameChat(claimed[0].Chat, _session);
        AssertSameChat(claimed[1].Chat, second);
        AssertSameChat(claimed[2].Chat, silent);
        Assert.That(claimed[0].History, Is.EqualTo(new[]
        {
            new ChatTurn(MessageRole.User, "a-q4"),
            new ChatTurn(MessageRole.User, "a-q5"),
            new ChatTurn(MessageRole.Assistant, "a-r5"),
            new ChatTurn(MessageRole.User, "question"),
        }), "a fallback reply is not a turn the model said");
        Assert.That(claimed[1].History, Is.EqualTo(new[]
        {
            new ChatTurn(MessageRole.User, "b-q4"),
            new ChatTurn(MessageRole.Assistant, "b-r4"),
            new ChatTurn(MessageRole.User, "b-q5"),
            new ChatTurn(MessageRole.User, "question"),
        }), "nor is a notice");
        Assert.That(claimed[2].History, Is.EqualTo(new[] { new ChatTurn(MessageRole.User, "question") }));
        var reads = Services.GetRequiredService<IChatReadModel>();
        foreach (var (_, chat, history) in claimed)
        {
            Assert.That(history, Is.EqualTo(await reads.GetRecentTurnsAsync(chat!.Id, 4, None)),
                "the same turns as the read model's for one chat");
        }
    }

    [Test]
    public async Task ClaimPending_CarriesAnAnswersToolCalls_AndTheResultsNamingThem()
    {
        var messages = Services.GetRequiredService<IMessageRepository>();
        await AddMessageAsync(Services, _session, MessageSource.User, "weather?");
        var call = ToolCall.Create("call_9", "get_weather", """{"city":"Lima"}""");
        await messages.AddAsync(Message.Answer(_session.Id, RelayRequestId.New(), "", MessageSource.Model, null, T0,
            finish: FinishReason.ToolCalls, toolCalls: [call]), None);
        var results = _session.PostToolResults(_owner, [("call_9", "cloudy")], T0);
        await messages.AddAsync(results[0], None);
        var request = RelayRequest.Create(_session.Id, _owner.Id, results[0].Id, SamplingParameters.Default, At(1));
        await _requests.AddAsync(request, None);

        var claimed = (await _requests.ClaimPendingAsync(5, 10, At(10), At(40), Claimer, None)).Single();

        Assert.That(claimed.History, Is.EqualTo(new[]
        {
            new ChatTurn(MessageRole.User, "weather?"),
            new ChatTurn(MessageRole.Assistant, "", [call]),
            new ChatTurn(MessageRole.Tool, "cloudy", ToolCallId: "call_9"),
        }));
        Assert.That(claimed.History,
            Is.EqualTo(await Services.GetRequiredService<IChatReadModel>().GetRecentTurnsAsync(_session.Id, 10, None)));
    }

    /// <summary>
    /// A new chat's first question placed on a host before it is stored is sent the turns its messages make in memory
    /// (<see cref="ChatTurn.Recent"/>): they must be those the dispatcher's claim reads of the same chat once stored.
    /// </summary>
    [Test]
    public async Task ClaimPending_ReadsTheTurnsANewChatsMessagesMakeBeforeTheyAreStored([Values(10, 3)] int history)
    {
        var messages = Services.GetRequiredService<IMessageRepository>();
        var call = ToolCall.Create("call_9", "get_weather", """{"city":"Lima"}""");
        List<Message> written =
        [
            _session.RecordEarlierTurn(_owner, MessageRole.User, "weather?", T0),
            _session.RecordEarlierTurn(_owner, MessageRole.Assistant, "", T0, [call]),
            _session.RecordEarlierTurn(_owner, MessageRole.Tool, "cloudy", T0, toolCallId: "call_9"),
            Message.Answer(_session.Id, RelayRequestId.New(), "a fallback's words", MessageSource.Fallback, null, T0),
            _session.RecordEarlierTurn(_owner, MessageRole.Assistant, "it is cloudy in Lima", T0),
            Message.Answer(_session.Id, RelayRequestId.New(), "the model host is offline", MessageSource.Notice, null, T0),
            _session.PostUserMessage(_owner, PromptText.From("and tomorrow?"), T0),
        ];
        foreach (var message in written)
        {
            await messages.AddAsync(message, None);
        }

        await _requests.AddAsync(RelayRequest.Create(_session.Id, _owner.Id, written[^1].Id, SamplingParameters.Default,
            At(1)), None);

        var claimed = (await _requests.ClaimPendingAsync(5, history, At(10), At(40), Claimer, None)).Single();

        Assert.That(claimed.History, Is.EqualTo(ChatTurn.Recent(written, history)));
        Assert.That(claimed.History, Has.Count.EqualTo(history == 3 ? 3 : 5), "neither the fallback's nor the notice");
    }

    [Test]
    public async Task ARequestStoredAlreadyDispatched_KeepsItsHostItsRunAndItsDeadlines()
    {
        var question = await AddMessageAsync(Services, _session, MessageSource.User, "hello?");
        var request = RelayRequest.Create(_session.Id, _owner.Id, question.Id, SamplingParameters.Default, At(1));
        var host = Guid.NewGuid();
        var run = Guid.NewGuid();
        request.Dispatch(At(1), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5), host, "alpha", run);

        await _requests.AddAsync(request, None);

        var stored = (await _requests.GetAsync(request.Id, None))!;
        Assert.That((stored.Status, stored.WorkerId, stored.SentToRun, stored.RoutedModel, stored.Attempts),
            Is.EqualTo((RelayRequestStatus.Dispatched, (Guid?)host, (Guid?)run, "alpha", 1)));
        Assert.That((stored.DispatchedAt, stored.AckDeadline, stored.CompletionDeadline),
            Is.EqualTo(((DateTimeOffset?)At(1), (DateTimeOffset?)(At(1) + TimeSpan.FromSeconds(30)),
                (DateTimeOffset?)(At(1) + TimeSpan.FromMinutes(5)))));
        Assert.That(await ClaimAsync(5, At(2), At(40)), Is.Empty, "not in the queue");
    }

    [Test]
    public async Task AUsersImages_AreStoredAsReferences_ReadBack_AndCarriedByTheClaim()
    {
        var messages = Services.GetRequiredService<IMessageRepository>();
        MessageImage[] images =
        [
            new($"images/{_owner.Id.Value:D}/{_session.Id.Value:D}/{new string('a', 32)}.png", "image/png", 68, 1, 1),
            new($"images/{_owner.Id.Value:D}/{_session.Id.Value:D}/{new string('b', 32)}.jpg", "image/jpeg", 41, 3, 2),
        ];
        var question = _session.PostUserMessage(_owner, PromptText.From("what is this?"), T0, images);
        await messages.AddAsync(question, None);
        var request = RelayRequest.Create(_session.Id, _owner.Id, question.Id, SamplingParameters.Default, At(1));
        await _requests.AddAsync(request, None);

        Assert.That((await messages.GetAsync(question.Id, None))!.Images, Is.EqualTo(images));
        var claimed = (await _requests.ClaimPendingAsync(5, 10, At(10), At(40), Claimer, None)).Single();
        Assert.That(claimed.History.Single().Images, Is.EqualTo(images.Select(TurnImage.Kept)));
        Assert.That(claimed.History,
            Is.EqualTo(await Services.GetRequiredService<IChatReadModel>().GetRecentTurnsAsync(_session.Id, 10, None)));
        var shown = (await Services.GetRequiredService<IChatReadModel>().GetTranscriptAsync(_session.Id, false, None)).Single();
        Assert.That(shown.Images!.Select(i => (i.Name, i.MediaType, i.Width, i.Height, i.Bytes)), Is.EqualTo(new[]
        {
            ($"{new string('a', 32)}.png", "image/png", 1, 1, 68L), ($"{new string('b', 32)}.jpg", "image/jpeg", 3, 2, 41L),
        }));
    }

    [Test]
    public async Task ClaimPending_AskingForNoHistory_CarriesTheChatWithNoTurns()
    {
        await AddMessageAsync(Services, _session, MessageSource.User, "earlier");
        var request = await AddRequestAsync(Services, _session, _owner, At(1));

        var claimed = (await _requests.ClaimPendingAsync(5, 0, At(10), At(40), Claimer, None)).Single();

        Assert.That(claimed.Request.Id, Is.EqualTo(request.Id));
        AssertSameChat(claimed.Chat, _session);
        Assert.That(claimed.History, Is.Empty);
    }

    [Test]
    public async Task ClaimPending_FromFourHostsAtOnce_HandsEachRequestToExactlyOneOfThem()
    {
        const int count = 200;
        for (var i = 0; i < count; i++)
        {
            await AddRequestInOwnChatAsync(At(i % 7));
        }

        var hosts = Enumerable.Range(0, 4).Select(_ => Db.StartHost()).ToList();
        var claims = new System.Collections.Concurrent.ConcurrentBag<(int Host, Guid Request)>();
        using var start = new ManualResetEventSlim();
        var dispatchers = hosts.Select((host, index) => Task.Run(async () =>
        {
            start.Wait();
            while (true)
            {
                await using var scope = host.CreateAsyncScope();
                var repository = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
                var batch = await ClaimAsync(5, At(100), At(130), repository);
                if (batch.Count == 0)
                {
                    return;
                }

                foreach (var request in batch)
                {
                    claims.Add((index, request.Id.Value));
                }
            }
        })).ToList();
        start.Set();
        await Task.WhenAll(dispatchers);

        Assert.That(claims.Select(c => c.Request).Distinct().Count(), Is.EqualTo(count), "every request was claimed");
        Assert.That(claims, Has.Count.EqualTo(count), "no request was claimed twice");
        await TestContext.Out.WriteLineAsync("claims per host: " + string.Join(", ",
            claims.GroupBy(c => c.Host).OrderBy(g => g.Key).Select(g => $"{g.Key}={g.Count()}")));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task ARequestPutBackInTheQueue_IsClaimableAtOnce_NotWhenItsDispatchLeaseEnds(bool many)
    {
        // Claimed with a 30 s lease and sent to a host that then went quiet: requeued at 12 s, it must not wait for
        // the lease (40 s) to go to another host.
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        var claimed = (await ClaimAsync(5, At(10), At(40))).Single();
        claimed.Dispatch(At(11), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), Guid.NewGuid());
        Assert.That(await _requests.TryUpdateAsync(claimed, RelayRequestStatus.Pending, None), Is.True);

        Assert.That(claimed.Requeue(), Is.True);
        var stored = many
            ? (await _requests.TryUpdateManyAsync([claimed], RelayRequestStatus.Dispatched, None)).Contains(claimed.Id)
            : await _requests.TryUpdateAsync(claimed, RelayRequestStatus.Dispatched, None);

        Assert.That(stored, Is.True);
        Assert.That((await ClaimAsync(5, At(12), At(42))).Select(r => r.Id), Is.EqualTo(new[] { request.Id }));
    }
}
