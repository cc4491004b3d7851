using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Redis;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

public sealed class RedisSessionClosedSignalTests
{
    private RedisTestServer _server = null!;

    [SetUp]
    public void SetUp() => _server = new RedisTestServer();

    [TearDown]
    public async Task TearDown() => await _server.DisposeAsync();

    private sealed class RecordingSignal : IChatClosedSignal
    {
        public ConcurrentQueue<Guid> Closed { get; } = new();

        public void NotifyClosed(Guid chatId) => Closed.Enqueue(chatId);
    }

    [Test]
    public async Task AChatClosedOnAnApiInstance_ReachesTheServerBotsSignalAtOnce()
    {
        var serverBot = new RecordingSignal();
        await using var services = new ServiceCollection().AddSingleton<IChatClosedSignal>(serverBot).BuildServiceProvider();
        var listener = new RedisChatClosedListener(_server.Connect(), services, _server.Outages());
        await listener.StartAsync(CancellationToken.None);
        var api = new RedisChatClosedSignal(_server.Connect(), _server.Outages());
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();

        // Fire and forget: on a loaded machine the API side's first connect may time out and drop a signal (the
        // server bot's sweep covers that in the product), so the test signals again until both arrived.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (serverBot.Closed.Distinct().Count() < 2 && DateTime.UtcNow < deadline)
        {
            api.NotifyClosed(first);
            api.NotifyClosed(second);
            await Task.Delay(500);
        }

        await listener.StopAsync(CancellationToken.None);
        Assert.That(serverBot.Closed.Distinct(), Is.EquivalentTo(new[] { first, second }));
    }

    [Test]
    public async Task AnotherDeploymentsPrefix_IsNotHeard()
    {
        var serverBot = new RecordingSignal();
        await using var services = new ServiceCollection().AddSingleton<IChatClosedSignal>(serverBot).BuildServiceProvider();
        var listener = new RedisChatClosedListener(_server.Connect(), services, _server.Outages());
        await listener.StartAsync(CancellationToken.None);
        var otherDeployment = _server.Options();
        otherDeployment.KeyPrefix = $"other:{Guid.NewGuid():N}:";
        var elsewhere = new RedisChatClosedSignal(_server.Connect(otherDeployment), _server.Outages());
        var mine = new RedisChatClosedSignal(_server.Connect(), _server.Outages());
        var id = Guid.NewGuid();

        elsewhere.NotifyClosed(Guid.NewGuid());
        mine.NotifyClosed(id);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (serverBot.Closed.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        await Task.Delay(200);
        await listener.StopAsync(CancellationToken.None);
        Assert.That(serverBot.Closed, Is.EqualTo(new[] { id }));
    }
}
