using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// When the first piece of an answer with text arrived (the measured time to first token): stored once, by the answering
/// attempt's first piece, through every way a request's state is written.
/// </summary>
public abstract partial class RelayQueueContract
{
    [Test]
    public async Task FirstPieceAt_IsStoredByTheFirstPieceWithText_AndLaterPiecesLeaveIt()
    {
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(request, None);
        request.ReceivePartial(1, At(3), carriesText: false);
        Assert.That(await _requests.TryUpdateAsync(request, RelayRequestStatus.Dispatched, None), Is.True);
        Assert.That((await ReadElsewhereAsync(request.Id))!.FirstPieceAt, Is.Null, "a piece without text is no token");

        var read = (await ReadElsewhereAsync(request.Id))!;
        read.ReceivePartial(2, At(4), carriesText: true);
        read.ReceivePartial(3, At(5), carriesText: true);
        Assert.That(await _requests.TryUpdateAsync(read, RelayRequestStatus.Streaming, None), Is.True);
        var again = (await ReadElsewhereAsync(request.Id))!;
        again.ReceivePartial(3, At(6), carriesText: true); // replayed
        again.ReceivePartial(4, At(7), carriesText: true);
        await _requests.UpdateAsync(again, None);

        Assert.That((await ReadElsewhereAsync(request.Id))!.FirstPieceAt, Is.EqualTo(At(4)));
    }

    [Test]
    public async Task FirstPieceAt_IsClearedWhenTheRequestIsRequeued_AndSetByTheAttemptThatAnswers()
    {
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        request.ReceivePartial(1, At(3));
        await _requests.UpdateAsync(request, None);
        Assert.That((await ReadElsewhereAsync(request.Id))!.FirstPieceAt, Is.EqualTo(At(3)));

        var requeued = (await ReadElsewhereAsync(request.Id))!;
        Assert.That(requeued.Requeue("shown"), Is.True);
        Assert.That(await _requests.TryUpdateAsync(requeued, RelayRequestStatus.Streaming, None), Is.True);
        Assert.That((await ReadElsewhereAsync(request.Id))!.FirstPieceAt, Is.Null);

        var second = (await ReadElsewhereAsync(request.Id))!;
        second.Dispatch(At(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        second.ReceivePartial(RelayRequest.SeqPerAttempt + 1, At(12));
        await _requests.UpdateAsync(second, None);
        var answering = (await ReadElsewhereAsync(request.Id))!;
        var answer = Message.Answer(_session.Id, request.Id, "answer", MessageSource.Model, new TokenCounts(1, 1), At(14));
        answering.Complete(answer.Id, At(14));
        Assert.That(await _requests.TryUpdateWithAnswerAsync(answering, RelayRequestStatus.Streaming, answer, None), Is.True);

        Assert.That((await ReadElsewhereAsync(request.Id))!.FirstPieceAt, Is.EqualTo(At(12)));
    }

    [Test]
    public async Task FirstPieceAt_OfAFinalThatCameAlone_IsStoredWithTheAnswer()
    {
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(request, None);
        var answer = Message.Answer(_session.Id, request.Id, "short", MessageSource.Model, new TokenCounts(1, 1), At(5));
        request.Complete(answer.Id, At(5), carriesText: true);

        Assert.That(await _requests.TryUpdateWithAnswerAsync(request, RelayRequestStatus.Dispatched, answer, None), Is.True);

        Assert.That((await ReadElsewhereAsync(request.Id))!.FirstPieceAt, Is.EqualTo(At(5)));
    }

    [Test]
    public async Task FirstPieceAt_IsStoredByABatchUpdate()
    {
        var request = await AddRequestInOwnChatAsync(At(1));
        var claimed = (await ClaimAsync(5, At(2), At(30))).Single();
        claimed.Dispatch(At(3), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        claimed.ReceivePartial(1, At(4));

        Assert.That(await _requests.TryUpdateManyAsync([claimed], RelayRequestStatus.Pending, None),
            Is.EquivalentTo(new[] { request.Id }));

        Assert.That((await ReadElsewhereAsync(request.Id))!.FirstPieceAt, Is.EqualTo(At(4)));
    }

    /// <summary>The request as another scope reads it from the store.</summary>
    private async Task<RelayRequest?> ReadElsewhereAsync(RelayRequestId id)
    {
        await using var other = Db.Scope();
        return await other.ServiceProvider.GetRequiredService<IRelayRequestRepository>().GetAsync(id, None);
    }
}
