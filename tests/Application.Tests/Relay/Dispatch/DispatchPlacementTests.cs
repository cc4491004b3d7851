using MediatR;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Commands;
using MeatLizard.Application.Relay.Dispatch;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>Which host each request goes to: its model, free slots, the least loaded, users in turns.</summary>
public class DispatchPlacementTests : DispatchTestBase
{
    [Test]
    public async Task Dispatch_SendsEachRequestToAHostServingItsModel_TheLeastLoaded_AndNamesItInTheBody()
    {
        var (a1, a2, b) = (TestPorts.Host(1, "alpha"), TestPorts.Host(1, "alpha"), TestPorts.Host(2, "beta"));
        Ports.WorkersOnline(a1, a2, b);
        var forAlpha = new[] { Pending("alpha"), Pending("alpha") };
        var forBeta = Pending("beta");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(forAlpha.Select(r => r.WorkerId), Is.EquivalentTo(new Guid?[] { a1.WorkerId, a2.WorkerId }),
            "one on each alpha host, not both on one");
        Assert.That(forBeta.WorkerId, Is.EqualTo(b.WorkerId));
        var targets = Ports.EnvelopesSentToWorkers.ToDictionary(e => e.RequestId,
            e => e.Body.Deserialize<RequestBody>(RelayJson.Options)!.WorkerId);
        Assert.That(targets[forBeta.Id.Value], Is.EqualTo(b.WorkerId));
        Assert.That(forAlpha.Select(r => targets[r.Id.Value]), Is.EquivalentTo(forAlpha.Select(r => r.WorkerId)));
    }

    [Test]
    public async Task Dispatch_NeverGivesAHostMoreThanItsSlots_TheRestWaitInTheQueue()
    {
        var host = TestPorts.Host(2, "alpha");
        Ports.WorkersOnline(host);
        var requests = Enumerable.Range(0, 5).Select(_ => Pending("alpha")).ToList();

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(requests.Count(r => r.Status == RelayRequestStatus.Dispatched), Is.EqualTo(2));
        Assert.That(requests.Count(r => r.Status == RelayRequestStatus.Pending), Is.EqualTo(3), "still queued, not answered");
        Assert.That(Ports.Journal, Does.Contain("release 3"));
        Assert.That(Ports.Relay<QueueWakes>().SlotsAwaited, Is.True, "a slot that frees wakes the dispatcher");
    }

    [Test]
    public async Task Dispatch_AModelRunApartOnItsHost_GetsNoMoreThanItsOwnSlots_WhateverTheOthersHaveFree()
    {
        // One llama-server per model: alpha has 1 slot, beta 2 (the host's 3 together).
        var split = TestPorts.Host(3, "alpha", "beta") with
        {
            ModelDetails = [new ModelCapacity("alpha", 1), new ModelCapacity("beta", 2)],
        };
        Ports.WorkersOnline(split);
        var alpha = new[] { Pending("alpha"), Pending("alpha") };
        var beta = Pending("beta");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(alpha.Count(r => r.Status == RelayRequestStatus.Dispatched), Is.EqualTo(1), "alpha's one slot");
        Assert.That(alpha.Single(r => r.Status == RelayRequestStatus.Dispatched).RoutedModel, Is.EqualTo("alpha"));
        Assert.That(beta.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "beta has slots of its own");
        Assert.That(alpha.Count(r => r.Status == RelayRequestStatus.Pending), Is.EqualTo(1), "waits, though the host has a slot free");
    }

    [Test]
    public async Task Dispatch_NamesTheRunOfTheHostHeardLast_OrNoneWhenNoneWasHeard()
    {
        // Stored with the request, it tells a process that never heard that run, on hearing a later one, that the request
        // is not with the host any more (QuietHostTests.OnTheDirectRelay_ARequestSentToARun…).
        var (heard, unheard) = (TestPorts.Host(1, "alpha"), TestPorts.Host(1, "beta"));
        Ports.WorkersOnline(heard, unheard);
        var run = Guid.NewGuid();
        Ports.HostRuns.NoteBoot(heard.WorkerId, Guid.NewGuid());
        Ports.HostRuns.NoteBoot(heard.WorkerId, run);
        var (alpha, beta) = (Pending("alpha"), Pending("beta"));

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(alpha.SentToRun, Is.EqualTo(run), "the run heard last");
        Assert.That(beta.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(beta.SentToRun, Is.Null, "no run of it heard here");
    }

    [Test]
    public async Task Dispatch_AHostThatGaveARequestBack_IsSentNothingUntilItsNextHeartbeat()
    {
        var stopping = TestPorts.Host(2, "alpha");
        var other = TestPorts.Host(2, "alpha");
        Ports.WorkersOnline(stopping);
        Ports.Hosts.GaveUp(stopping.WorkerId);
        var request = Pending("alpha");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "waits in the queue, not the fallback");

        Ports.WorkersOnline(stopping, other);
        Ports.Clock.UtcNow += ModelHosts.Reuse + TimeSpan.FromMilliseconds(1);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.WorkerId, Is.EqualTo(other.WorkerId), "the other host, not the one that gave it back");
    }

    [Test]
    public async Task Dispatch_AModelNoHostServes_IsAnsweredAtOnce_NamingTheModelsOnline()
    {
        Ports.WorkersOnline(TestPorts.Host(1, "alpha"), TestPorts.Host(1, "beta"));
        var request = Pending("gamma");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Failed));
        Assert.That(request.Error, Is.EqualTo("model_not_served"));
        var answer = Ports.StoredMessages.Single(m => m.Id == request.AnswerMessageId);
        Assert.That(answer.Source, Is.EqualTo(MessageSource.Notice));
        Assert.That(answer.Content, Does.Contain("'gamma'").And.Contain("alpha, beta"));
        Assert.That(Ports.SentToWorkers, Is.Empty);
    }

    [Test]
    public async Task Dispatch_TheDefaultModel_GoesToAnyHost_WhenNoHostListsItByName_AsARequestForItsOwnDefault()
    {
        var host = TestPorts.Host(1, "alpha");
        Ports.WorkersOnline(host);
        var request = Pending(null); // the chat names none: the configured default, "default", which no host lists

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.WorkerId, Is.EqualTo(host.WorkerId));
        // No model named: the host answers with its own first model rather than refusing one it does not serve.
        var body = Ports.EnvelopesSentToWorkers.Single().Body.Deserialize<RequestBody>(RelayJson.Options)!;
        Assert.That(body.Model, Is.Null);
    }

    [Test]
    public async Task Dispatch_AModelAHostServes_IsNamedInTheRequest()
    {
        Ports.WorkersOnline(TestPorts.Host(1, "alpha", "beta"));
        Pending("beta");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        var body = Ports.EnvelopesSentToWorkers.Single().Body.Deserialize<RequestBody>(RelayJson.Options)!;
        Assert.That(body.Model, Is.EqualTo("beta"));
    }

    [Test]
    public async Task Dispatch_TakesTheQueueInTurnsOverUsers()
    {
        var host = TestPorts.Host(1, "alpha");
        Ports.WorkersOnline(host);
        var heavy = Enumerable.Range(0, 4).Select(_ => Pending("alpha")).ToList();
        var bob = Ports.SignIn(new UserBuilder().Named("bob").Build());
        var bobs = Pending("alpha", bob);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        var first = Ports.EnvelopesSentToWorkers.Single().RequestId;
        Complete(first);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        var second = Ports.EnvelopesSentToWorkers.Last().RequestId;
        Complete(second);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        var third = Ports.EnvelopesSentToWorkers.Last().RequestId;

        Assert.That(first, Is.EqualTo(heavy[0].Id.Value), "alice's oldest first: she asked first");
        Assert.That(second, Is.EqualTo(bobs.Id.Value), "bob's only one next, before alice's other three");
        Assert.That(third, Is.EqualTo(heavy[1].Id.Value), "then alice again");
    }

    [Test]
    public async Task Dispatch_TellsTheWaitingTheirPlaceInTheirModelsQueue_AndAboutHowLong()
    {
        var (alpha, beta) = (TestPorts.Host(2, "alpha"), TestPorts.Host(1, "beta"));
        Ports.WorkersOnline(alpha, beta);
        Ports.AnswerTimes.Record(alpha.WorkerId, TimeSpan.FromSeconds(10)); // two slots: one answer every 5 s
        var forAlpha = Enumerable.Range(0, 5).Select(_ => Pending("alpha")).ToList();
        var forBeta = new[] { Pending("beta"), Pending("beta") };

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        var told = Ports.Published.Where(e => e.Status == "queued").ToDictionary(e => e.RequestId!.Value);
        Assert.That(forAlpha.Skip(2).Select(r => told[r.Id.Value].QueuePosition), Is.EqualTo(new int?[] { 1, 2, 3 }));
        Assert.That(forAlpha.Skip(2).Select(r => told[r.Id.Value].EstimatedWaitSeconds), Is.EqualTo(new int?[] { 5, 10, 15 }));
        Assert.That(told[forBeta[1].Id.Value].QueuePosition, Is.EqualTo(1), "each model's queue counts apart");
        Assert.That(told[forBeta[1].Id.Value].EstimatedWaitSeconds, Is.Null, "beta's host has not answered yet");
        Assert.That(forAlpha.Take(2).Concat(forBeta.Take(1)).Select(r => r.Id.Value), Has.None.AnyOf(told.Keys));
    }
}
