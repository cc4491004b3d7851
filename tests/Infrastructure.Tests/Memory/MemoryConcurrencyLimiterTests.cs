using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Memory;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Memory;

public sealed class MemoryConcurrencyLimiterTests
{
    [Test]
    public async Task Enter_ConcurrentAttempts_GetExactlyTheLimit_AndLeavingFreesAPlace()
    {
        var limiter = new MemoryConcurrencyLimiter();

        var places = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() =>
            limiter.TryEnterAsync(ConcurrencyScope.OpenStream, "alice", 2, CancellationToken.None).AsTask())));
        var held = places.OfType<IAsyncDisposable>().ToList();
        var otherUser = await limiter.TryEnterAsync(ConcurrencyScope.OpenStream, "bob", 2, CancellationToken.None);
        await held[0].DisposeAsync();
        await held[0].DisposeAsync(); // twice frees one place, not two
        var afterLeave = await limiter.TryEnterAsync(ConcurrencyScope.OpenStream, "alice", 2, CancellationToken.None);
        var overAgain = await limiter.TryEnterAsync(ConcurrencyScope.OpenStream, "alice", 2, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(held, Has.Count.EqualTo(2));
            Assert.That(otherUser, Is.Not.Null);
            Assert.That(afterLeave, Is.Not.Null);
            Assert.That(overAgain, Is.Null);
        });
    }

    [Test]
    public async Task Enter_WithLimitZero_IsUncapped()
    {
        var limiter = new MemoryConcurrencyLimiter();

        var places = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            limiter.TryEnterAsync(ConcurrencyScope.WaitingCall, "alice", 0, CancellationToken.None).AsTask()));

        Assert.That(places, Has.All.Not.Null);
    }
}
