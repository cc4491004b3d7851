using MeatLizard.Infrastructure.Relay.Direct;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay.Direct;

public sealed class DirectLinkTests
{
    private static long[] Numbers(IEnumerable<(long Seq, byte[] Frame)> waiting) => [.. waiting.Select(w => w.Seq)];

    [Test]
    public void Envelopes_AreNumberedFromOne_AndKeptUntilAcknowledged()
    {
        var link = new DirectLink(100);
        for (var i = 0; i < 5; i++)
        {
            link.Enqueue(Guid.NewGuid(), $"ML1.{i}");
        }

        link.Acknowledged(3);

        Assert.That(Numbers(link.WaitingAfter(0)), Is.EqualTo(new long[] { 4, 5 }));
        Assert.That(Numbers(link.WaitingAfter(4)), Is.EqualTo(new long[] { 5 }));
        Assert.That(link.Unacknowledged, Is.EqualTo(2));
    }

    [Test]
    public void PastTheLimit_TheOldestWaitingEnvelopeGoes_AndTheEnqueueSaysSo()
    {
        var link = new DirectLink(2);

        var kept = new[] { link.Enqueue(null, "ML1.a"), link.Enqueue(null, "ML1.b"), link.Enqueue(null, "ML1.c") };

        Assert.That(kept, Is.EqualTo(new[] { true, true, false }));
        Assert.That(Numbers(link.WaitingAfter(0)), Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(link.Overflowed, Is.EqualTo(1));
    }

    [Test]
    public void AnEnvelopeReceivedTwice_IsTakenOnce_AndTheAckCoversTheLastNumber()
    {
        var link = new DirectLink(10);

        var taken = new[] { link.Accept(1), link.Accept(2), link.Accept(2), link.Accept(1), link.Accept(3) };

        Assert.That(taken, Is.EqualTo(new[] { true, true, false, false, true }));
        Assert.That(link.TakeAckDue(), Is.EqualTo(3));
        Assert.That(link.TakeAckDue(), Is.Null, "acknowledged already");
        Assert.That(link.LastReceived, Is.EqualTo(3));
    }

    [Test]
    public void AnEnvelopeReceived_IsAcknowledgedOnlyOnceHandled_WithEveryOneBeforeIt()
    {
        var server = new DirectLink(10);
        var deliveries = new[] { server.Receive(1)!, server.Receive(2)!, server.Receive(3)! };

        var beforeAny = server.TakeAckDue();
        deliveries[1].Handled();
        var withTheFirstStillOpen = server.TakeAckDue();
        deliveries[0].Handled();
        var afterTheFirst = server.TakeAckDue();
        deliveries[2].Handled();
        deliveries[2].Handled();

        Assert.That(beforeAny, Is.Null, "nothing is handled yet");
        Assert.That(withTheFirstStillOpen, Is.Null, "the second is handled, but the first is not");
        Assert.That(afterTheFirst, Is.EqualTo(2));
        Assert.That(server.TakeAckDue(), Is.EqualTo(3));
        Assert.That(server.Receive(2), Is.Null, "a repeat is still a repeat");
    }

    [Test]
    public void AnAnswerThatArrived_ButWentWithTheServerBeforeItWasHandled_IsSentAgainToTheNextServer()
    {
        // Over Discord a restarted server bot reads again what it had not handled; over the direct relay the host must
        // still hold it: acknowledged on arrival, a final that arrived as the API was killed -9, before it was stored,
        // was lost for good (the request then ended in a notice at its timeout).
        var worker = new DirectLink(10);
        var serverBefore = new DirectLink(10);
        serverBefore.Greeted(worker.Hello());
        worker.Greeted(serverBefore.Hello());
        worker.Enqueue(Guid.NewGuid(), "ML1.partial");
        worker.Enqueue(Guid.NewGuid(), "ML1.final");
        serverBefore.Receive(1)!.Handled();
        serverBefore.Receive(2); // arrived; its store had not happened when the process died
        worker.Acknowledged(serverBefore.TakeAckDue()!.Value);

        var serverAfter = new DirectLink(10);
        var resendFrom = worker.Greeted(serverAfter.Hello());
        serverAfter.Greeted(worker.Hello());

        Assert.That(Numbers(worker.WaitingAfter(resendFrom)), Is.EqualTo(new long[] { 2 }), "the final is sent again");
        Assert.That(serverAfter.Receive(1), Is.Not.Null, "and taken by the new server, numbered anew");
    }

    [Test]
    public void AfterAReconnect_WhatArrivedButIsNotHandledYet_IsNeitherAcknowledgedNorTakenTwice()
    {
        var worker = new DirectLink(10);
        var server = new DirectLink(10);
        server.Greeted(worker.Hello());
        worker.Greeted(server.Hello());
        worker.Enqueue(null, "ML1.1");
        worker.Enqueue(null, "ML1.2");
        server.Receive(1)!.Handled();
        var stillBeingStored = server.Receive(2)!;

        // Another connection, same processes: the hello speaks only for what is handled.
        var resendFrom = worker.Greeted(server.Hello());
        var sentAgain = server.Receive(2);
        stillBeingStored.Handled();

        Assert.That(resendFrom, Is.EqualTo(1));
        Assert.That(Numbers(worker.WaitingAfter(resendFrom)), Is.EqualTo(new long[] { 2 }));
        Assert.That(sentAgain, Is.Null, "the copy sent again is a repeat: the first is still being handled");
        Assert.That(server.TakeAckDue(), Is.EqualTo(2), "acknowledged once that one is handled");
    }

    [Test]
    public void AfterAReconnect_EachSideSendsAgainOnlyWhatTheOthersHelloShowsItMissed()
    {
        var worker = new DirectLink(10);
        var server = new DirectLink(10);
        // First connection: hellos exchanged, two envelopes arrive, the third is lost with the connection.
        server.Greeted(worker.Hello());
        worker.Greeted(server.Hello());
        for (var i = 1; i <= 3; i++)
        {
            worker.Enqueue(null, $"ML1.{i}");
        }

        server.Accept(1);
        server.Accept(2);

        // Second connection.
        var resendFrom = worker.Greeted(server.Hello());

        Assert.That(resendFrom, Is.EqualTo(2));
        Assert.That(Numbers(worker.WaitingAfter(resendFrom)), Is.EqualTo(new long[] { 3 }));
        Assert.That(worker.Unacknowledged, Is.EqualTo(1), "the hello acknowledged what arrived");
    }

    [Test]
    public void AHelloAboutAnotherIncarnation_SendsEverythingWaiting_AndANewPeerStartsItsNumbersAgain()
    {
        var worker = new DirectLink(10);
        var serverBefore = new DirectLink(10);
        serverBefore.Greeted(worker.Hello());
        worker.Greeted(serverBefore.Hello());
        serverBefore.Enqueue(null, "ML1.x");
        worker.Accept(1);
        worker.Enqueue(null, "ML1.a");
        worker.Enqueue(null, "ML1.b");

        // The server restarted: its new link knows nothing; the worker's hello speaks of the old one.
        var serverAfter = new DirectLink(10);
        var workerResendsFrom = worker.Greeted(serverAfter.Hello());
        var serverResendsFrom = serverAfter.Greeted(worker.Hello());

        Assert.That(workerResendsFrom, Is.EqualTo(0), "the new server received none of them");
        Assert.That(Numbers(worker.WaitingAfter(workerResendsFrom)), Is.EqualTo(new long[] { 1, 2 }));
        Assert.That(serverResendsFrom, Is.EqualTo(0));
        Assert.That(worker.Accept(1), Is.True, "the new server's first envelope is new, though numbered as the old one's");
    }

    [Test]
    public void ANewProcessOfTheSameHost_AdoptsWhatTheGoneOneHadWaiting_NumberedAnew()
    {
        var gone = new DirectLink(10);
        var chat = Guid.NewGuid();
        gone.Enqueue(chat, "ML1.request");
        gone.Enqueue(null, "ML1.embed");
        gone.Acknowledged(1);
        var next = new DirectLink(10);
        next.Enqueue(null, "ML1.newer");

        next.Adopt(gone);

        Assert.That(gone.Unacknowledged, Is.Zero);
        Assert.That(next.WaitingAfter(0).Select(w => DirectFrame.Read(w.Frame)),
            Is.EqualTo(new DirectFrame?[] { DirectFrame.Envelope(1, null, "ML1.newer"), DirectFrame.Envelope(2, null, "ML1.embed") }));
    }
}
