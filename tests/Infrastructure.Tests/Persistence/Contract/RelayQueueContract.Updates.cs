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

/// <summary>Conditional updates of requests (alone, with their answer, many in one transaction): stored only while as read.</summary>
public abstract partial class RelayQueueContract
{
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
        Assert.That(kept.Cached, Is.False);
    }

    [Test]
    public async Task AnAnswerFromTheAnswerCache_IsStoredMarkedCached_AndReadSo()
    {
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(request, None);
        var answer = Message.Answer(_session.Id, request.Id, "again", MessageSource.Model, new TokenCounts(7, 3), At(4),
            "alpha", FinishReason.Stop, cached: true);
        request.Complete(answer.Id, At(4));

        Assert.That(await _requests.TryUpdateWithAnswerAsync(request, RelayRequestStatus.Dispatched, answer, None), Is.True);

        await using var other = Db.Scope();
        var kept = await other.ServiceProvider.GetRequiredService<IMessageRepository>().GetAsync(answer.Id, None);
        var page = await other.ServiceProvider.GetRequiredService<IChatReadModel>().GetTranscriptAsync(_session.Id,
            wholeTree: false, None);
        Assert.That(kept!.Cached, Is.True);
        Assert.That(page.Single(m => m.Id == answer.Id.Value).Cached, Is.True);
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

    [TestCase("alone")]
    [TestCase("with its answer")]
    [TestCase("in a batch")]
    public async Task ACopyOfAnEarlierAttempt_IsNotStoredOverALaterAttemptInTheSameStatus(string how)
    {
        // Two server bots: one keeps its copy of the request as its first host had it (attempt 1, dispatched); the
        // other puts it back in the queue when that host goes quiet and sends it again (attempt 2, dispatched too).
        // Stored over it, the copy would bring back attempt 1's deadlines, and attempt 2's answer would be ignored as
        // an earlier attempt's (a soak's timeout notices where the model had answered).
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), first);
        await _requests.UpdateAsync(request, None);
        var kept = (await _requests.GetAsync(request.Id, None))!;
        await using (var scope = Db.StartHost().CreateAsyncScope())
        {
            var theirs = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
            var copy = (await theirs.GetAsync(request.Id, None))!;
            Assert.That(copy.Requeue(), Is.True);
            Assert.That(await theirs.TryUpdateAsync(copy, RelayRequestStatus.Dispatched, None), Is.True);
            copy.Dispatch(At(20), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), second);
            Assert.That(await theirs.TryUpdateAsync(copy, RelayRequestStatus.Pending, None), Is.True, "attempt 2 sent");
        }

        var answer = Message.Answer(_session.Id, request.Id, "attempt one", MessageSource.Model, null, At(21));
        bool stored;
        switch (how)
        {
            case "alone":
                Assert.That(kept.Acknowledge(At(21)), Is.True);
                stored = await _requests.TryUpdateAsync(kept, RelayRequestStatus.Dispatched, None);
                break;
            case "with its answer":
                Assert.That(kept.Complete(answer.Id, At(21)), Is.True);
                stored = await _requests.TryUpdateWithAnswerAsync(kept, RelayRequestStatus.Dispatched, answer, None);
                break;
            default:
                Assert.That(kept.Acknowledge(At(21)), Is.True);
                stored = (await _requests.TryUpdateManyAsync([kept], RelayRequestStatus.Dispatched, None)).Contains(kept.Id);
                break;
        }

        Assert.That(stored, Is.False);
        var reread = (await _requests.GetAsync(request.Id, None))!;
        Assert.That((reread.Status, reread.Attempts, reread.WorkerId, reread.AckedAt),
            Is.EqualTo((RelayRequestStatus.Dispatched, 2, (Guid?)second, (DateTimeOffset?)null)));
        Assert.That((reread.DispatchedAt, reread.CompletionDeadline), Is.EqualTo(((DateTimeOffset?)At(20), (DateTimeOffset?)At(80))));
        Assert.That(await Services.GetRequiredService<IMessageRepository>().GetAsync(answer.Id, None), Is.Null);

        // The copy read now is of attempt 2, and is stored.
        Assert.That(reread.Acknowledge(At(22)), Is.True);
        Assert.That(await _requests.TryUpdateAsync(reread, RelayRequestStatus.Dispatched, None), Is.True);
        Assert.That((await _requests.GetAsync(request.Id, None))!.AckedAt, Is.EqualTo(At(22)));
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
}
