using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

public abstract class RelayQueueContract : ScopedDatabaseContract
{
    private IRelayRequestRepository _requests = null!;
    private User _owner = null!;
    private ChatSession _session = null!;

    [SetUp]
    public async Task SetUp()
    {
        _requests = Services.GetRequiredService<IRelayRequestRepository>();
        _owner = await AddUserAsync(Services);
        _session = await AddSessionAsync(Services, _owner);
    }

    [Test]
    public async Task ListPending_ReturnsOnlyPendingRequestsOldestFirst_UpToMax()
    {
        var newer = await AddRequestInOwnChatAsync(At(3));
        var oldest = await AddRequestInOwnChatAsync(At(1));
        var middle = await AddRequestInOwnChatAsync(At(2));
        var sent = await AddRequestInOwnChatAsync(At(0));
        await DispatchAsync(sent);

        var firstTwo = await _requests.ListPendingAsync(2, None);
        var all = await _requests.ListPendingAsync(10, None);

        Assert.That(firstTwo.Select(r => r.Id), Is.EqualTo(new[] { oldest.Id, middle.Id }));
        Assert.That(all.Select(r => r.Id), Is.EqualTo(new[] { oldest.Id, middle.Id, newer.Id }));
    }

    [Test]
    public async Task ListPending_WithTheSameCreationTime_KeepsInsertionOrder()
    {
        var first = await AddRequestInOwnChatAsync(At(1));
        var second = await AddRequestInOwnChatAsync(At(1));
        var third = await AddRequestInOwnChatAsync(At(1));

        var pending = await _requests.ListPendingAsync(10, None);

        Assert.That(pending.Select(r => r.Id), Is.EqualTo(new[] { first.Id, second.Id, third.Id }));
    }

    [Test]
    public async Task ListInFlight_ReturnsDispatchedAndStreamingRequestsOldestFirst()
    {
        var streaming = await AddRequestInOwnChatAsync(At(1));
        streaming.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        streaming.ReceivePartial(1, At(3));
        await _requests.UpdateAsync(streaming, None);
        var dispatched = await AddRequestInOwnChatAsync(At(2));
        await DispatchAsync(dispatched);
        await AddRequestInOwnChatAsync(At(0));
        var completed = await AddRequestInOwnChatAsync(At(0));
        await DispatchAsync(completed);
        completed.Complete(Domain.Common.MessageId.New(), At(9));
        await _requests.UpdateAsync(completed, None);

        var inFlight = await _requests.ListInFlightAsync(None);

        Assert.That(inFlight.Select(r => r.Id), Is.EqualTo(new[] { streaming.Id, dispatched.Id }));
        Assert.That(inFlight.Select(r => r.Status),
            Is.EqualTo(new[] { RelayRequestStatus.Streaming, RelayRequestStatus.Dispatched }));
    }

    [Test]
    public async Task GetUnfinishedForSession_ReturnsTheNewestPendingOrInFlightRequestOfThatSession()
    {
        // A chat holds one unfinished request at a time (the database refuses a second): the ones before it ended.
        var finished = await AddRequestAsync(Services, _session, _owner, At(1));
        await DispatchAsync(finished);
        finished.Cancel(At(2));
        await _requests.UpdateAsync(finished, None);
        var newer = await AddRequestAsync(Services, _session, _owner, At(3));
        var otherSession = await AddSessionAsync(Services, _owner);
        await AddRequestAsync(Services, otherSession, _owner, At(5));

        var unfinished = await _requests.GetUnfinishedForSessionAsync(_session.Id, None);

        Assert.That(unfinished?.Id, Is.EqualTo(newer.Id));
    }

    [Test]
    public async Task GetUnfinishedForSession_WhenEveryRequestEnded_ReturnsNull()
    {
        var failed = await AddRequestAsync(Services, _session, _owner, At(1));
        await DispatchAsync(failed);
        failed.Fail("boom", null, At(2));
        await _requests.UpdateAsync(failed, None);
        var cancelled = await AddRequestAsync(Services, _session, _owner, At(3));
        cancelled.Cancel(At(4));
        await _requests.UpdateAsync(cancelled, None);

        Assert.That(await _requests.GetUnfinishedForSessionAsync(_session.Id, None), Is.Null);
    }

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
    public async Task CountInFlightByHost_CountsDispatchedAndStreamingRequests_PerHost()
    {
        var (x, y) = (Guid.NewGuid(), Guid.NewGuid());
        var requests = new List<RelayRequest>();
        for (var i = 0; i < 5; i++)
        {
            requests.Add(await AddRequestInOwnChatAsync(At(i)));
        }

        foreach (var (request, host) in requests.Zip(new[] { x, x, y, x, y }))
        {
            request.Dispatch(At(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), host);
        }

        requests[1].ReceivePartial(1, At(11));
        requests[3].Complete(MessageId.New(), At(12));
        requests[4].Cancel(At(12));
        foreach (var request in requests)
        {
            await _requests.UpdateAsync(request, None);
        }

        var counts = await _requests.CountInFlightByHostAsync(None);

        Assert.That(counts, Is.EquivalentTo(new[] { new InFlightCount(x, null, 2), new InFlightCount(y, null, 1) }));
        Assert.That((await _requests.GetAsync(requests[2].Id, None))!.WorkerId, Is.EqualTo(y), "the host is stored");
    }

    [Test]
    public async Task CountInFlightByHost_CountsEachModelApart_AndTheRoutedModelIsStored()
    {
        var host = Guid.NewGuid();
        var requests = new List<RelayRequest>();
        foreach (var (model, i) in new[] { "alpha", "alpha", "beta", null }.Select((m, i) => (m, i)))
        {
            var request = await AddRequestInOwnChatAsync(At(i));
            request.Dispatch(At(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), host, model);
            await _requests.UpdateAsync(request, None);
            requests.Add(request);
        }

        var counts = await _requests.CountInFlightByHostAsync(None);

        Assert.That(counts, Is.EquivalentTo(new[]
        {
            new InFlightCount(host, "alpha", 2), new InFlightCount(host, "beta", 1), new InFlightCount(host, null, 1),
        }));
        Assert.That((await _requests.GetAsync(requests[2].Id, None))!.RoutedModel, Is.EqualTo("beta"));
        requests[2].Requeue();
        await _requests.UpdateAsync(requests[2], None);
        Assert.That((await _requests.GetAsync(requests[2].Id, None))!.RoutedModel, Is.Null, "put back: routed again when sent again");
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
        var sessions = Services.GetRequiredService<IChatSessionRepository>();
        var second = ChatSession.Restore(SessionId.New(), _owner.Id, SessionTitle.From("Trip planning"),
            SessionStatus.Active, ModelName.From("mistral:7b"), SystemPrompt.FromOptional("You are a travel agent."),
            SamplingParameters.Create(0.7, 0.95, 512), At(1), At(2), null);
        await sessions.AddAsync(second, None);
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

        var claimed = await _requests.ClaimPendingAsync(10, 4, At(20), At(50), None);

        Assert.That(claimed.Select(c => c.Request.Id), Is.EqualTo(new[] { first.Id, fromSecond.Id, fromSilent.Id }));
        AssertSameChat(claimed[0].Session, _session);
        AssertSameChat(claimed[1].Session, second);
        AssertSameChat(claimed[2].Session, silent);
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
    public async Task ClaimPending_AskingForNoHistory_CarriesTheChatWithNoTurns()
    {
        await AddMessageAsync(Services, _session, MessageSource.User, "earlier");
        var request = await AddRequestAsync(Services, _session, _owner, At(1));

        var claimed = (await _requests.ClaimPendingAsync(5, 0, At(10), At(40), None)).Single();

        Assert.That(claimed.Request.Id, Is.EqualTo(request.Id));
        AssertSameChat(claimed.Session, _session);
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

    [Test]
    public async Task TryUpdate_WhenTheStoredStatusIsStillTheExpectedOne_StoresTheChange()
    {
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        var claimed = (await ClaimAsync(5, At(10), At(40))).Single();
        claimed.Dispatch(At(11), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));

        var stored = await _requests.TryUpdateAsync(claimed, RelayRequestStatus.Pending, None);

        var reread = await _requests.GetAsync(request.Id, None);
        Assert.That(stored, Is.True);
        Assert.That(reread!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(reread.Attempts, Is.EqualTo(1));
        Assert.That(reread.AckDeadline, Is.EqualTo(At(16)));
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

    [Test]
    public async Task TryUpdate_AfterAnotherHostCancelledTheClaimedRequest_DoesNotDispatchIt()
    {
        // A dispatcher claimed the request; before it stored "dispatched", another process cancelled it. The
        // dispatcher's copy still says pending: writing it must not bring the request back to life.
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        var claimed = (await ClaimAsync(5, At(10), At(40))).Single();
        var otherHost = Db.StartHost();
        await using (var scope = otherHost.CreateAsyncScope())
        {
            var theirs = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
            var copy = (await theirs.GetAsync(request.Id, None))!;
            copy.Cancel(At(12));
            Assert.That(await theirs.TryUpdateAsync(copy, RelayRequestStatus.Pending, None), Is.True);
        }

        claimed.Dispatch(At(13), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        var stored = await _requests.TryUpdateAsync(claimed, RelayRequestStatus.Pending, None);

        var reread = await _requests.GetAsync(request.Id, None);
        Assert.That(stored, Is.False);
        Assert.That(reread!.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        Assert.That(reread.DispatchedAt, Is.Null);
        Assert.That(reread.Attempts, Is.Zero);
    }

    [Test]
    public async Task TryUpdateWithAnswer_WhileStillExpected_StoresTheRequestAndItsAnswer()
    {
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(request, None);
        var answer = Message.Answer(_session.Id, request.Id, "forty-two", MessageSource.Model, new TokenCounts(7, 3), At(4),
            "alpha", FinishReason.Stop);
        request.Complete(answer.Id, At(4));

        var stored = await _requests.TryUpdateWithAnswerAsync(request, RelayRequestStatus.Dispatched, answer, None);

        Assert.That(stored, Is.True);
        await using var other = Db.Scope();
        var reread = await other.ServiceProvider.GetRequiredService<IRelayRequestRepository>().GetAsync(request.Id, None);
        Assert.That(reread!.Status, Is.EqualTo(RelayRequestStatus.Completed));
        Assert.That(reread.AnswerMessageId, Is.EqualTo(answer.Id));
        Assert.That(reread.FinishedAt, Is.EqualTo(At(4)));
        var kept = await other.ServiceProvider.GetRequiredService<IMessageRepository>().GetAsync(answer.Id, None);
        Assert.That(kept, Is.Not.Null);
        Assert.That((kept!.Content, kept.Source, kept.RequestId, kept.Tokens, kept.CreatedAt),
            Is.EqualTo(("forty-two", MessageSource.Model, (RelayRequestId?)request.Id, (TokenCounts?)new TokenCounts(7, 3), At(4))));
        Assert.That((kept.Model, kept.Finish), Is.EqualTo(("alpha", (FinishReason?)FinishReason.Stop)));
    }

    [Test]
    public async Task TryUpdateWithAnswer_AfterAnotherHostChangedTheRequest_StoresNeither()
    {
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(request, None);
        await using (var scope = Db.StartHost().CreateAsyncScope())
        {
            var theirs = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
            var copy = (await theirs.GetAsync(request.Id, None))!;
            copy.Cancel(At(3));
            Assert.That(await theirs.TryUpdateAsync(copy, RelayRequestStatus.Dispatched, None), Is.True);
        }

        var answer = Message.Answer(_session.Id, request.Id, "too late", MessageSource.Model, null, At(4));
        request.Complete(answer.Id, At(4));
        var stored = await _requests.TryUpdateWithAnswerAsync(request, RelayRequestStatus.Dispatched, answer, None);

        Assert.That(stored, Is.False);
        Assert.That((await _requests.GetAsync(request.Id, None))!.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        Assert.That(await Services.GetRequiredService<IMessageRepository>().GetAsync(answer.Id, None), Is.Null,
            "an answer to a request decided otherwise is not kept");
    }

    [Test]
    public async Task TryUpdate_ManyInOneTransaction_StoresThoseStillExpected_AndSkipsTheOthers()
    {
        // The dispatcher stores a whole batch in one transaction: a request cancelled meanwhile is skipped, the
        // others are dispatched.
        var first = await AddRequestInOwnChatAsync(At(1));
        var second = await AddRequestInOwnChatAsync(At(2));
        var third = await AddRequestInOwnChatAsync(At(3));
        var batch = await ClaimAsync(5, At(10), At(40));
        var cancelled = (await _requests.GetAsync(second.Id, None))!;
        cancelled.Cancel(At(11));
        await _requests.UpdateAsync(cancelled, None);

        var unitOfWork = Services.GetRequiredService<IUnitOfWork>();
        var stored = await unitOfWork.InTransactionAsync(async ct =>
        {
            var results = new List<bool>();
            foreach (var request in batch)
            {
                request.Dispatch(At(12), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
                results.Add(await _requests.TryUpdateAsync(request, RelayRequestStatus.Pending, ct));
            }

            return results;
        }, None);

        Assert.That(batch.Select(r => r.Id), Is.EqualTo(new[] { first.Id, second.Id, third.Id }));
        Assert.That(stored, Is.EqualTo(new[] { true, false, true }));
        Assert.That((await _requests.GetAsync(first.Id, None))!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That((await _requests.GetAsync(second.Id, None))!.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        Assert.That((await _requests.GetAsync(third.Id, None))!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
    }

    [Test]
    public async Task TryUpdateMany_AfterAnotherHostCancelledOneOfTheBatch_StoresAndReturnsOnlyTheOthers()
    {
        // The dispatcher stores its whole batch in one statement: the request another process cancelled after the
        // claim keeps its cancellation; the others are stored, one dispatched and one cancelled (its chat was gone).
        var first = await AddRequestInOwnChatAsync(At(1));
        var second = await AddRequestInOwnChatAsync(At(2));
        var third = await AddRequestInOwnChatAsync(At(3));
        var fourth = await AddRequestInOwnChatAsync(At(4));
        var batch = await ClaimAsync(5, At(10), At(40));
        await using (var scope = Db.StartHost().CreateAsyncScope())
        {
            var theirs = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
            var copy = (await theirs.GetAsync(second.Id, None))!;
            copy.Cancel(At(11));
            Assert.That(await theirs.TryUpdateAsync(copy, RelayRequestStatus.Pending, None), Is.True);
        }

        batch[0].Dispatch(At(12), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        batch[1].Dispatch(At(12), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        batch[2].Cancel(At(12));
        batch[3].Dispatch(At(12), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));

        var stored = await _requests.TryUpdateManyAsync(batch, RelayRequestStatus.Pending, None);

        Assert.That(batch.Select(r => r.Id), Is.EqualTo(new[] { first.Id, second.Id, third.Id, fourth.Id }));
        Assert.That(stored, Is.EquivalentTo(new[] { first.Id, third.Id, fourth.Id }));
        var cancelled = (await _requests.GetAsync(second.Id, None))!;
        Assert.That(cancelled.Status, Is.EqualTo(RelayRequestStatus.Cancelled), "the other host's cancel stands");
        Assert.That(cancelled.FinishedAt, Is.EqualTo(At(11)));
        Assert.That(cancelled.DispatchedAt, Is.Null);
        Assert.That(cancelled.Attempts, Is.Zero);
        foreach (var id in new[] { first.Id, fourth.Id })
        {
            var dispatched = (await _requests.GetAsync(id, None))!;
            Assert.That(dispatched.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
            Assert.That(dispatched.Attempts, Is.EqualTo(1));
            Assert.That(dispatched.DispatchedAt, Is.EqualTo(At(12)));
            Assert.That(dispatched.AckDeadline, Is.EqualTo(At(17)));
            Assert.That(dispatched.CompletionDeadline, Is.EqualTo(At(72)));
        }

        var orphan = (await _requests.GetAsync(third.Id, None))!;
        Assert.That(orphan.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        Assert.That(orphan.FinishedAt, Is.EqualTo(At(12)));
        Assert.That(await _requests.TryUpdateManyAsync(batch, RelayRequestStatus.Pending, None), Is.Empty,
            "none is pending any more");
    }

    [Test]
    public async Task TryUpdateMany_StoresEveryMutableField_IncludingNulls()
    {
        var full = await AddRequestInOwnChatAsync(At(1));
        var failed = await AddRequestInOwnChatAsync(At(2));
        var bare = await AddRequestInOwnChatAsync(At(3));
        full.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2));
        full.Acknowledge(At(3));
        full.ReceivePartial(4, At(4));
        full.TimeOut(RelayTimeoutReason.NoAck, At(5));
        full.FallBack(MessageId.New(), At(6));
        failed.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2));
        failed.Fail("model_load_failed", null, At(3));
        bare.Cancel(At(4));

        var stored = await _requests.TryUpdateManyAsync([full, failed, bare], RelayRequestStatus.Pending, None);

        Assert.That(stored, Is.EquivalentTo(new[] { full.Id, failed.Id, bare.Id }));
        foreach (var expected in new[] { full, failed, bare })
        {
            var actual = (await _requests.GetAsync(expected.Id, None))!;
            Assert.Multiple(() =>
            {
                Assert.That(actual.Status, Is.EqualTo(expected.Status));
                Assert.That(actual.Attempts, Is.EqualTo(expected.Attempts));
                Assert.That(actual.LastSeq, Is.EqualTo(expected.LastSeq));
                Assert.That(actual.DispatchedAt, Is.EqualTo(expected.DispatchedAt));
                Assert.That(actual.AckedAt, Is.EqualTo(expected.AckedAt));
                Assert.That(actual.AckDeadline, Is.EqualTo(expected.AckDeadline));
                Assert.That(actual.CompletionDeadline, Is.EqualTo(expected.CompletionDeadline));
                Assert.That(actual.FinishedAt, Is.EqualTo(expected.FinishedAt));
                Assert.That(actual.AnswerMessageId, Is.EqualTo(expected.AnswerMessageId));
                Assert.That(actual.TimeoutReason, Is.EqualTo(expected.TimeoutReason));
                Assert.That(actual.Error, Is.EqualTo(expected.Error));
            });
        }

        Assert.That(await _requests.TryUpdateManyAsync([], RelayRequestStatus.Pending, None), Is.Empty);
    }

    /// <summary>A pending request in a chat of its own: a chat holds one unfinished request at a time.</summary>
    private async Task<RelayRequest> AddRequestInOwnChatAsync(DateTimeOffset createdAt) =>
        await AddRequestAsync(Services, await AddSessionAsync(Services, _owner), _owner, createdAt);

    private async Task DispatchAsync(RelayRequest request)
    {
        request.Dispatch(request.CreatedAt, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(request, None);
    }

    /// <summary>The requests of a claim (each with its chat's ten newest turns, as a dispatcher reads them).</summary>
    private async Task<IReadOnlyList<RelayRequest>> ClaimAsync(
        int max, DateTimeOffset now, DateTimeOffset leaseUntil, IRelayRequestRepository? repository = null) =>
        (await (repository ?? _requests).ClaimPendingAsync(max, 10, now, leaseUntil, None)).Select(c => c.Request)
            .ToList();
}
