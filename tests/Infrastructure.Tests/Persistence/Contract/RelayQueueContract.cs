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

/// <summary>
/// The relay queue every database must keep alike, on SQLite and PostgreSQL: listing requests and counting them per host
/// here; claiming and conditional updates each in a file of their own.
/// </summary>
public abstract partial class RelayQueueContract : ScopedDatabaseContract
{
    private IRelayRequestRepository _requests = null!;
    private User _owner = null!;
    private Chat _session = null!;

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
    public async Task GetOptionsAskedWith_GivesTheLatestRequestOfThatQuestionsOptions_AndNoneForAnUnaskedOne()
    {
        // A question asked twice (the second time regenerated with a stop), and another chat's question with its own.
        var first = await AddRequestAsync(Services, _session, _owner, At(1));
        first.Cancel(At(2));
        await _requests.UpdateAsync(first, None);
        var again = RelayRequest.Create(_session.Id, _owner.Id, first.UserMessageId, SamplingParameters.Default, At(3),
            GenerationOptions.Create(stop: ["END"], seed: 7, tools: """[{"type":"function","function":{"name":"f"}}]"""));
        await _requests.AddAsync(again, None);
        var unasked = await AddMessageAsync(Services, _session, MessageSource.User, "not asked", At(4));

        var options = await _requests.GetOptionsAskedWithAsync(first.UserMessageId, None);

        Assert.Multiple(async () =>
        {
            Assert.That(options.Stop, Is.EqualTo(new[] { "END" }));
            Assert.That(options.Seed, Is.EqualTo(7));
            Assert.That(options.Tools, Does.Contain("\"f\""));
            var none = await _requests.GetOptionsAskedWithAsync(unasked.Id, None);
            Assert.That((none.Tools, none.Seed, none.Stop.Count), Is.EqualTo(((string?)null, (long?)null, 0)));
        });
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
    public async Task AnAnswerStart_IsStoredWhenARequestGoesBack_AndKeptThroughItsNextDispatch()
    {
        var request = await AddRequestInOwnChatAsync(At(0));
        await DispatchAsync(request);
        const string Shown = "Die Wolken ziehen \u2014 \"quoted\" and 'single' \U0001F600 ";

        request.Requeue(Shown);
        Assert.That(await _requests.TryUpdateAsync(request, RelayRequestStatus.Dispatched, None), Is.True);
        var back = (await _requests.GetAsync(request.Id, None))!;
        Assert.That(back.AnswerStart, Is.EqualTo(Shown), "stored byte for byte");
        back.Dispatch(At(20), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(back, None);

        Assert.That((await _requests.GetAsync(request.Id, None))!.AnswerStart, Is.EqualTo(Shown));
        var fresh = await AddRequestInOwnChatAsync(At(1));
        Assert.That((await _requests.GetAsync(fresh.Id, None))!.AnswerStart, Is.Null, "none on a new request");
    }

    private async Task<RelayRequest> AddRequestInOwnChatAsync(DateTimeOffset createdAt) =>
        await AddRequestAsync(Services, await AddSessionAsync(Services, _owner), _owner, createdAt);

    private async Task DispatchAsync(RelayRequest request)
    {
        request.Dispatch(request.CreatedAt, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await _requests.UpdateAsync(request, None);
    }

    /// <summary>The dispatcher run the contract's claims are made for, unless a test names another.</summary>
    private const string Claimer = "dispatcher-host:1234:run";

    /// <summary>The requests of a claim (each with its chat's ten newest turns, as a dispatcher reads them).</summary>
    private async Task<IReadOnlyList<RelayRequest>> ClaimAsync(int max, DateTimeOffset now, DateTimeOffset leaseUntil,
        IRelayRequestRepository? repository = null, string claimer = Claimer) =>
        (await (repository ?? _requests).ClaimPendingAsync(max, 10, now, leaseUntil, claimer, None))
            .Select(c => c.Request).ToList();
}
