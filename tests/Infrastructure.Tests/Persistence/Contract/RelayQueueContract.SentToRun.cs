using MeatLizard.Domain.Relay;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// The run of its host a request's attempt was sent to (issue 39): stored with the dispatch through every way a
/// request's state is written, so a process that never heard that run knows, on hearing a later run of the host, that an
/// attempt no run acknowledged is not with the host any more.
/// </summary>
public abstract partial class RelayQueueContract
{
    [Test]
    public async Task SentToRun_IsStoredByTheDispatchersBatchUpdate_AndClearedWhenTheRequestIsRequeued()
    {
        var run = Guid.NewGuid();
        var request = await AddRequestInOwnChatAsync(At(1));
        var claimed = (await ClaimAsync(5, At(2), At(30))).Single();
        claimed.Dispatch(At(3), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), Guid.NewGuid(), sentToRun: run);

        Assert.That(await _requests.TryUpdateManyAsync([claimed], RelayRequestStatus.Pending, None),
            Is.EquivalentTo(new[] { request.Id }));
        Assert.That((await ReadElsewhereAsync(request.Id))!.SentToRun, Is.EqualTo(run), "read by another process");

        var requeued = (await ReadElsewhereAsync(request.Id))!;
        Assert.That(requeued.Requeue(), Is.True);
        await _requests.UpdateAsync(requeued, None);
        Assert.That((await ReadElsewhereAsync(request.Id))!.SentToRun, Is.Null, "the next attempt names its own run");
    }

    [Test]
    public async Task SentToRun_IsStoredByASingleUpdate()
    {
        var run = Guid.NewGuid();
        var request = await AddRequestAsync(Services, _session, _owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), Guid.NewGuid(), sentToRun: run);

        Assert.That(await _requests.TryUpdateAsync(request, RelayRequestStatus.Pending, None), Is.True);

        Assert.That((await ReadElsewhereAsync(request.Id))!.SentToRun, Is.EqualTo(run));
    }
}
