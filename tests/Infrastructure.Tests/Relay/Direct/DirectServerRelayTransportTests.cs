using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Infrastructure.Relay.Direct;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay.Direct;

/// <summary>
/// The direct relay's server end, on real WebSockets over loopback TCP. What it tells the relay of the way to its
/// hosts: out while every host is cut off (its connection broke rather than closed), back as soon as one dials again —
/// so their questions are held, not answered "no model host", while the network between them and the server is down
/// or a host restarts. And, across a restart of the server: what a host sends for the requests it was answering is
/// taken (the restarted process never gave them), and nothing is acknowledged before the relay has handled it. With
/// several API instances running it: which hosts this one reaches, and what a host whose instance died had is taken here.
/// </summary>
public sealed class DirectServerRelayTransportTests
{
    private static readonly TimeSpan Cap = TimeSpan.FromMinutes(10);

    private ServiceProvider _services = null!;
    private RelayTransportHealth _health = null!;
    private DirectRelayCounters _counters = null!;
    private DirectServerRelayTransport _transport = null!;
    private readonly List<RelayRequest> _inFlight = [];
    private readonly List<IDisposable> _owned = [];

    [SetUp]
    public void SetUp()
    {
        var requests = new Mock<IRelayRequestRepository>();
        requests.Setup(r => r.ListInFlightAsync(It.IsAny<CancellationToken>())).ReturnsAsync(() => [.. _inFlight]);
        _services = new ServiceCollection().AddMetrics().AddScoped(_ => requests.Object).BuildServiceProvider();
        _health = new RelayTransportHealth(new SystemClock());
        _counters = new DirectRelayCounters(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        _transport = new DirectServerRelayTransport(new DirectRelayOptions(), _counters, TimeProvider.System, _health,
            _services.GetRequiredService<IServiceScopeFactory>(), new NoDirectRelayPeers(), NullLogger<DirectServerRelayTransport>.Instance);
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        _services.Dispose();
    }

    [Test]
    public async Task AHostWhoseConnectionBreaks_LeavesTheWayOut_UntilItDialsAgain()
    {
        var link = Guid.NewGuid();
        var (host, serving) = await ConnectAsync("studio-mac", link);
        var whileConnected = await _transport.IsReachableAsync(CancellationToken.None);

        host.Abort(); // no close frame: a reset, a process killed, a keep-alive given up
        await serving;
        var cutOff = await _transport.IsReachableAsync(CancellationToken.None);
        var outWhileCutOff = _health.IsOut(Cap);
        var (_, servingAgain) = await ConnectAsync("studio-mac", link);

        Assert.That(whileConnected, Is.True);
        Assert.That(cutOff, Is.False, "the only host is cut off");
        Assert.That(outWhileCutOff, Is.True, "so its questions and deadlines are held");
        Assert.That(await _transport.IsReachableAsync(CancellationToken.None), Is.True, "it dialled again");
        Assert.That(_health.IsOut(Cap), Is.False);
        Assert.That(servingAgain.IsCompleted, Is.False);
    }

    [Test]
    public async Task AHostThatClosesItsConnection_IsGone_NotCutOff()
    {
        var (host, serving) = await ConnectAsync("studio-mac", Guid.NewGuid());

        await host.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await serving;

        Assert.That(await _transport.IsReachableAsync(CancellationToken.None), Is.True, "a host that stopped is not waited for");
        Assert.That(_health.IsOut(Cap), Is.False);
    }

    [Test]
    public async Task OneOfTwoHostsCutOff_LeavesTheWayOpen_ForTheOtherToTakeItsWork()
    {
        var (first, serving) = await ConnectAsync("studio-mac", Guid.NewGuid());
        await ConnectAsync("attic-pc", Guid.NewGuid());

        first.Abort();
        await serving;

        Assert.That(await _transport.IsReachableAsync(CancellationToken.None), Is.True);
        Assert.That(_health.IsOut(Cap), Is.False);
    }

    [Test]
    public async Task ACutOffHostWhoseTokenIsRevoked_IsNotWaitedFor()
    {
        var (host, serving) = await ConnectAsync("studio-mac", Guid.NewGuid());
        host.Abort();
        await serving;

        _transport.Disconnect("studio-mac");

        Assert.That(await _transport.IsReachableAsync(CancellationToken.None), Is.True);
        Assert.That(_health.IsOut(Cap), Is.False);
    }

    [Test]
    public async Task AfterARestart_WhatAHostSendsForARequestItWasAnswering_IsTaken_AndForAChatNeverGiven_Dropped()
    {
        // The API was killed -9 while the host wrote four answers: their finals, sent again to the restarted process,
        // were dropped as envelopes "for requests the host was never given", and the four ended in notices.
        var answering = InFlightRequest();
        _inFlight.Add(answering);
        var (host, _) = await ConnectAsync("studio-mac", Guid.NewGuid());

        await SendAsync(host, DirectFrame.Hello(0, Guid.NewGuid(), Guid.NewGuid())); // it spoke to the server's predecessor
        await SendAsync(host, DirectFrame.Envelope(1, Guid.NewGuid(), "ML1.never-given"));
        await SendAsync(host, DirectFrame.Envelope(2, answering.ChatId.Value, "ML1.final"));
        var taken = await FirstReceivedAsync();

        Assert.That(taken.ChatId, Is.EqualTo(answering.ChatId.Value));
        Assert.That(taken.Wire, Is.EqualTo("ML1.final"));
        Assert.That(_counters.Count(DirectRelayDrop.UnknownRequest), Is.EqualTo(1));
    }

    [Test]
    public async Task AHost_IsReachedThroughTheInstanceItsHeartbeatsComeOver_UntilThatConnectionIsGone()
    {
        // Several API instances run the direct relay: each dispatcher may send only to the hosts connected to it.
        var (studio, attic) = (Guid.NewGuid(), Guid.NewGuid());
        var (host, serving) = await ConnectAsync("studio-mac", Guid.NewGuid());
        await SendAsync(host, DirectFrame.Hello(0, Guid.NewGuid(), null));
        await SendAsync(host, DirectFrame.Envelope(1, null, "ML1.heartbeat"));
        var beat = await FirstReceivedAsync();
        var beforeItsHeartbeat = _transport.Reaches(studio);

        beat.Delivery!.HeardFrom(studio); // the relay opened it: studio's heartbeat
        var whileConnected = (_transport.Reaches(studio), _transport.Reaches(attic));
        host.Abort();
        await serving;

        Assert.That(beforeItsHeartbeat, Is.False, "which host a connection carries is known from its heartbeats");
        Assert.That(whileConnected, Is.EqualTo((true, false)), "attic's heartbeats come over another instance");
        Assert.That(_transport.Reaches(studio), Is.False, "gone from here: it may be dialling another instance");
        Assert.That(_transport.Judges(attic), Is.True, "every instance judges every host by the shared presence");
    }

    [Test]
    public async Task AHostThatDialsInOnceItsInstanceDied_HasWhatThatInstanceGaveIt_Taken()
    {
        // Two API instances run the direct relay; this one came long before the other gave studio-mac a request, then
        // died mid-answer: studio-mac dials this one, and sends again what the death cut off.
        await ConnectAsync("attic-pc", Guid.NewGuid());
        var answering = InFlightRequest();
        _inFlight.Add(answering);
        var (host, _) = await ConnectAsync("studio-mac", Guid.NewGuid());

        await SendAsync(host, DirectFrame.Hello(7, Guid.NewGuid(), Guid.NewGuid())); // it spoke to the other instance
        await SendAsync(host, DirectFrame.Envelope(1, answering.ChatId.Value, "ML1.final"));
        var taken = await FirstReceivedAsync();

        Assert.That(taken.ChatId, Is.EqualTo(answering.ChatId.Value));
        Assert.That(_counters.Count(DirectRelayDrop.UnknownRequest), Is.Zero);
    }

    [Test]
    public async Task WhatAHostSends_IsAcknowledged_OnlyOnceTheRelayHasHandledIt()
    {
        // Acknowledged on arrival, an answer that arrived as the API was killed, before it was stored, was gone for good:
        // the host forgets what is acknowledged.
        var answering = InFlightRequest();
        _inFlight.Add(answering);
        var (host, _) = await ConnectAsync("studio-mac", Guid.NewGuid());
        await SendAsync(host, DirectFrame.Hello(0, Guid.NewGuid(), null));
        await SendAsync(host, DirectFrame.Envelope(1, answering.ChatId.Value, "ML1.final"));
        var taken = await FirstReceivedAsync();

        var buffer = new byte[4096];
        var next = host.ReceiveAsync(buffer, CancellationToken.None);
        var ackedBeforeHandling = await Task.WhenAny(next, Task.Delay(TimeSpan.FromMilliseconds(500))) == next;
        taken.Delivery!.Handled();
        var received = await next.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(ackedBeforeHandling, Is.False, "no ack while the answer is not stored");
        Assert.That(DirectFrame.Read(buffer.AsSpan(0, received.Count)), Is.EqualTo(DirectFrame.Ack(1)));
    }

    private static RelayRequest InFlightRequest()
    {
        var request = RelayRequest.Create(new ChatId(Guid.NewGuid()), new UserId(Guid.NewGuid()), new MessageId(Guid.NewGuid()),
            SamplingParameters.Default, DateTimeOffset.UtcNow);
        request.Dispatch(DateTimeOffset.UtcNow, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(3), Guid.NewGuid());
        return request;
    }

    private static Task SendAsync(WebSocket host, DirectFrame frame) =>
        host.SendAsync(frame.Write(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    private async Task<RelayPacket> FirstReceivedAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var packet in _transport.ReceiveAllAsync(timeout.Token))
        {
            return packet;
        }

        throw new AssertionException("nothing was received");
    }

    /// <summary>
    /// A host's connection as the endpoint serves it after the handshake: its WebSocket, and the server end serving it
    /// (completes when the connection ends). Returns once the server's hello has arrived.
    /// </summary>
    private async Task<(WebSocket Host, Task Serving)> ConnectAsync(string host, Guid link)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var hostSide = new TcpClient();
        _owned.Add(hostSide);
        await hostSide.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
        var serverSide = await listener.AcceptTcpClientAsync();
        _owned.Add(serverSide);
        var server = WebSocket.CreateFromStream(serverSide.GetStream(), new WebSocketCreationOptions { IsServer = true });
        var client = WebSocket.CreateFromStream(hostSide.GetStream(), new WebSocketCreationOptions { IsServer = false });
        _owned.Add(server);
        _owned.Add(client);
        var serving = _transport.ServeAsync(host, link, server, CancellationToken.None);
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var hello = await client.ReceiveAsync(buffer, timeout.Token);
        Assert.That(DirectFrame.Read(buffer.AsSpan(0, hello.Count))?.Kind, Is.EqualTo(DirectFrameKind.Hello));
        return (client, serving);
    }
}
