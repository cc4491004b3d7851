using MeatLizard.Domain.Relay;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// The run of its host that acknowledged a request (issue 39): stored with it through every way a request's state is
/// written, so a process that never heard that run knows, on hearing another run of the host, that the request was lost.
/// </summary>
public abstract partial class RelayQueueContract
{
    [Test]
    public async Task AckedByRun_IsStoredWithTheAck_AndClearedWhenTheRequestIsRequeued()
    {
        var run = Guid.NewGuid();
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), Guid.NewGuid());
        await _requests.UpdateAsync(request, None);
        Assert.That(request.Acknowledge(At(3), run), Is.True);
        Assert.That(await _requests.TryUpdateAsync(request, RelayRequestStatus.Dispatched, None), Is.True);

        Assert.That((await ReadElsewhereAsync(request.Id))!.AckedByRun, Is.EqualTo(run), "read by another process");

        var requeued = (await ReadElsewhereAsync(request.Id))!;
        Assert.That(requeued.Requeue(), Is.True);
        await _requests.UpdateAsync(requeued, None);
        Assert.That((await ReadElsewhereAsync(request.Id))!.AckedByRun, Is.Null, "the next attempt's run acknowledges it anew");
    }

    [Test]
    public async Task AckedByRun_IsStoredByABatchUpdate()
    {
        var run = Guid.NewGuid();
        var request = await AddRequestInOwnChatAsync(At(1));
        var claimed = (await ClaimAsync(5, At(2), At(30))).Single();
        claimed.Dispatch(At(3), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), Guid.NewGuid());
        claimed.Acknowledge(At(4), run);

        Assert.That(await _requests.TryUpdateManyAsync([claimed], RelayRequestStatus.Pending, None),
            Is.EquivalentTo(new[] { request.Id }));

        Assert.That((await ReadElsewhereAsync(request.Id))!.AckedByRun, Is.EqualTo(run));
    }
}
