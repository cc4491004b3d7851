using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay;

public sealed class InProcessRelayTransportTests
{
    [Test]
    public async Task ServerSends_WorkerReceivesInOrder()
    {
        var transport = new InProcessRelayTransport();
        var sent = Enumerable.Range(0, 100).Select(i => new RelayPacket(Guid.NewGuid(), $"ML1.s{i}")).ToList();

        foreach (var packet in sent)
        {
            await transport.Server.SendAsync(packet, CancellationToken.None);
        }

        Assert.That(await Take(transport.Worker, sent.Count), Is.EqualTo(sent));
    }

    [Test]
    public async Task WorkerSends_ServerReceivesInOrder_IncludingControlChannelPackets()
    {
        var transport = new InProcessRelayTransport();
        var sent = Enumerable.Range(0, 100)
            .Select(i => new RelayPacket(i % 10 == 0 ? null : Guid.NewGuid(), $"ML1.w{i}")).ToList();

        var receiving = Take(transport.Server, sent.Count);
        foreach (var packet in sent)
        {
            await transport.Worker.SendAsync(packet, CancellationToken.None);
        }

        Assert.That(await receiving, Is.EqualTo(sent));
    }

    [Test]
    public async Task AnEndNeverReceivesWhatItSentItself()
    {
        var transport = new InProcessRelayTransport();
        await transport.Server.SendAsync(new RelayPacket(null, "ML1.down"), CancellationToken.None);
        await transport.Worker.SendAsync(new RelayPacket(null, "ML1.up"), CancellationToken.None);

        var atWorker = await Take(transport.Worker, 1);
        var atServer = await Take(transport.Server, 1);

        Assert.That(atWorker.Single().Wire, Is.EqualTo("ML1.down"));
        Assert.That(atServer.Single().Wire, Is.EqualTo("ML1.up"));
    }

    [Test]
    public void ReceiveAll_EndsWithCancellation()
    {
        var transport = new InProcessRelayTransport();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        Assert.That(async () =>
        {
            await foreach (var _ in transport.Worker.ReceiveAllAsync(cancel.Token))
            {
            }
        }, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task AddInProcessRelayTransport_GivesBothEndsOfOneTransport()
    {
        await using var provider = new ServiceCollection().AddInProcessRelayTransport().BuildServiceProvider();
        var server = provider.GetRequiredService<IServerRelayTransport>();
        var worker = provider.GetRequiredService<IHostRelayTransport>();

        await server.SendAsync(new RelayPacket(null, "ML1.x"), CancellationToken.None);

        Assert.That((await Take(worker, 1)).Single().Wire, Is.EqualTo("ML1.x"));
    }

    [Test]
    public async Task AddPersistence_WithSqlite_GivesTheInProcessQueueSignal_TheOnlyOneRegistered()
    {
        var settings = InfrastructureSettings.Read(new ConfigurationBuilder().Build());
        var services = new ServiceCollection().AddLogging().AddPersistence(settings);
        await using var provider = services.BuildServiceProvider();

        Assert.That(services.Count(d => d.ServiceType == typeof(IRelayQueueSignal)), Is.EqualTo(1));
        Assert.That(provider.GetRequiredService<IRelayQueueSignal>(), Is.InstanceOf<InProcessRelayQueueSignal>());
    }

    private static async Task<List<RelayPacket>> Take(IRelayChannel channel, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var received = new List<RelayPacket>();
        await foreach (var packet in channel.ReceiveAllAsync(timeout.Token))
        {
            received.Add(packet);
            if (received.Count == count)
            {
                break;
            }
        }

        return received;
    }
}
