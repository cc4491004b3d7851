using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

public class ChatLanesTests
{
    private const int Lanes = 64;

    [Test]
    public async Task AHeartbeat_IsHandled_WhileAChatsPacketsAreStillBeingStored_WhicheverLaneTheChatHashesTo()
    {
        // A chat whose answer store is slow (the database under load) holds its lane. The host's heartbeats (the control
        // channel: no session) must not wait behind it: a heartbeat noted late is the host's silence to the process that
        // judges it, and its requests went back to the queue though it was answering them. The chat chosen is one that
        // shares a lane with every session-less packet when those are spread like a session of their own.
        var chat = Enumerable.Range(0, 10_000).Select(_ => Guid.NewGuid())
            .First(id => (uint)id.GetHashCode() % Lanes == (uint)Guid.Empty.GetHashCode() % Lanes);
        var storeBegun = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var storing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var heartbeatHandled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();

        var lanes = ChatLanes.RunAsync(AnswerThenHeartbeat(chat, storeBegun.Task, stop.Token), Lanes, maxBatch: 64,
            async (packets, ct) =>
            {
                if (packets.Any(p => p.ChatId is null))
                {
                    heartbeatHandled.TrySetResult();
                }

                if (packets.Any(p => p.ChatId == chat))
                {
                    storeBegun.TrySetResult();
                    await storing.Task.WaitAsync(ct); // the store is slow: it ends only when the test says
                }
            }, stop.Token);
        try
        {
            Assert.That(await Task.WhenAny(heartbeatHandled.Task, Task.Delay(TimeSpan.FromSeconds(5))),
                Is.SameAs(heartbeatHandled.Task), "the heartbeat was handled while the chat's store still ran");
        }
        finally
        {
            storing.TrySetResult();
            await stop.CancelAsync();
            await lanes;
        }
    }

    /// <summary>
    /// A chat's answer, then (once its store has begun) a heartbeat, then nothing more until the end: a transport that
    /// stays open.
    /// </summary>
    private static async IAsyncEnumerable<RelayPacket> AnswerThenHeartbeat(Guid chat, Task storeBegun,
        [EnumeratorCancellation] CancellationToken ct)
    {
        yield return new RelayPacket(chat, "answer");
        await storeBegun.WaitAsync(ct);
        yield return new RelayPacket(null, "heartbeat");
        await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
