using System.Runtime.CompilerServices;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

public class RelayInboundLoopTests
{
    [Test]
    public async Task PacketsWhoseHandlingFailed_AreTriedAgainWithPauses_UntilTheyAreHandled()
    {
        // E.g. an answer whose store waited out a database restart: it is not marked handled, and must not be left to
        // the completion timeout (which would answer with a notice instead of the model's answer).
        var packet = new RelayPacket(Guid.NewGuid(), "ML1.answer");
        var tries = new List<DateTime>();
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mediator = new Mock<IMediator>();
        mediator.Setup(m => m.Send(It.IsAny<HandleHostPacket>(), It.IsAny<CancellationToken>()))
            .Returns((IRequest<IReadOnlyList<RelayPacket>> command, CancellationToken _) =>
            {
                lock (tries)
                {
                    tries.Add(DateTime.UtcNow);
                    switch (tries.Count)
                    {
                        case 1:
                            return Task.FromResult(((HandleHostPacket)command).Packets);
                        case 2:
                            throw new InvalidOperationException("the command failed as a whole");
                        default:
                            handled.TrySetResult();
                            return Task.FromResult<IReadOnlyList<RelayPacket>>([]);
                    }
                }
            });
        await using var services = new ServiceCollection().AddSingleton(mediator.Object).BuildServiceProvider();
        var transport = new Mock<IServerRelayTransport>();
        transport.Setup(t => t.ReceiveAllAsync(It.IsAny<CancellationToken>())).Returns((CancellationToken ct) => OneThenWait(packet, ct));
        var loop = new RelayInboundLoop(services.GetRequiredService<IServiceScopeFactory>(), transport.Object,
            NullLogger<RelayInboundLoop>.Instance);

        await loop.StartAsync(CancellationToken.None);
        await handled.Task.WaitAsync(TimeSpan.FromSeconds(15));
        await loop.StopAsync(CancellationToken.None);

        Assert.That(tries, Has.Count.EqualTo(3));
        Assert.That(tries[1] - tries[0], Is.GreaterThanOrEqualTo(RelayInboundLoop.FirstRetryPause - TimeSpan.FromMilliseconds(50)));
        Assert.That(tries[2] - tries[1], Is.GreaterThan(tries[1] - tries[0]), "growing pauses");
    }

    private static async IAsyncEnumerable<RelayPacket> OneThenWait(RelayPacket packet, [EnumeratorCancellation] CancellationToken ct)
    {
        yield return packet;
        await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
