using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence;

[TestFixture]
public sealed class SqliteRelayQueueTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private SqliteTestDatabase _db = null!;
    private AsyncServiceScope _scope;
    private IServiceProvider _services = null!;
    private IRelayRequestRepository _requests = null!;
    private User _owner = null!;
    private ChatSession _session = null!;

    [SetUp]
    public async Task SetUp()
    {
        _db = await SqliteTestDatabase.CreateAsync();
        _scope = _db.Scope();
        _services = _scope.ServiceProvider;
        _requests = _services.GetRequiredService<IRelayRequestRepository>();
        _owner = await AddUserAsync(_services);
        _session = await AddSessionAsync(_services, _owner);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _scope.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task ListPending_ReturnsOnlyPendingRequestsOldestFirst_UpToMax()
    {
        var newer = await AddRequestAsync(_services, _session, _owner, At(3));
        var oldest = await AddRequestAsync(_services, _session, _owner, At(1));
        var middle = await AddRequestAsync(_services, _session, _owner, At(2));
        var sent = await AddRequestAsync(_services, _session, _owner, At(0));
        await DispatchAsync(sent);

        var firstTwo = await _requests.ListPendingAsync(2, None);
        var all = await _requests.ListPendingAsync(10, None);

        Assert.That(firstTwo.Select(r => r.Id), Is.EqualTo(new[] { oldest.Id, middle.Id }));
        Assert.That(all.Select(r => r.Id), Is.EqualTo(new[] { oldest.Id, middle.Id, newer.Id }));
    }

    [Test]
    public async Task ListPending_WithTheSameCreationTime_KeepsInsertionOrder()
    {
        var first = await AddRequestAsync(_services, _session, _owner, At(1));
        var second = await AddRequestAsync(_services, _session, _owner, At(1));
        var third = await AddRequestAsync(_services, _session, _owner, At(1));

        var pending = await _requests.ListPendingAsync(10, None);

        Assert.That(pending.Select(r => r.Id), Is.EqualTo(new[] { first.Id, second.Id, third.Id }));
    }

    [Test]
    public async Task ListInFlight_ReturnsDispatchedAndStreamingRequestsOldestFirst()
    {
        var streaming = await AddRequestAsync(_services, _session, _owner, At(1));
        streaming.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        streaming.ReceivePartial(1, At(3));
        await _requests.UpdateAsync(streaming, None);
        var dispatched = await AddRequestAsync(_services, _session, _owner, At(2));
        await DispatchAsync(dispatched);
        await AddRequestAsync(_services, _session, _owner, At(0));
        var completed = await AddRequestAsync(_services, _session, _owner, At(0));
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
        var older = await AddRequestAsync(_services, _session, _owner, At(1));
        await DispatchAsync(older);
        var newer = await AddRequestAsync(_services, _session, _owner, At(2));
        var finished = await AddRequestAsync(_services, _session, _owner, At(3));
        finished.Cancel(At(4));
        await _requests.UpdateAsync(finished, None);
        var otherSession = await AddSessionAsync(_services, _owner);
        await AddRequestAsync(_services, otherSession, _owner, At(5));

        var unfinished = await _requests.GetUnfinishedForSessionAsync(_session.Id, None);

        Assert.That(unfinished?.Id, Is.EqualTo(newer.Id));
    }

    [Test]
    public async Task GetUnfinishedForSession_WhenEveryRequestEnded_ReturnsNull()
    {
        var failed = await AddRequestAsync(_services, _session, _owner, At(1));
        await DispatchAsync(failed);
        failed.Fail("boom", null, At(2));
        await _requests.UpdateAsync(failed, None);
        var cancelled = await AddRequestAsync(_services, _session, _owner, At(3));
        cancelled.Cancel(At(4));
        await _requests.UpdateAsync(cancelled, None);

        Assert.That(await _requests.GetUnfinishedForSessionAsync(_session.Id, None), Is.Null);
    }

    private async Task DispatchAsync(RelayRequest request)
    {
        request.Dispatch(request.CreatedAt, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(request, None);
    }
}
