using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// The direct relay (issue 39): the model host dials the API instance that relays, over a WebSocket of its own, and
/// that connection breaks while 24 messages are in flight. The client bot runs in the test process on an echo
/// (<see cref="ScriptedEngine.Echo"/>, 100 ms between words), as in the Discord rows: the fault does not concern llama.cpp.
/// </summary>
[NonParallelizable]
public sealed class DirectRelayConnectionTests : ClusterFixture
{
    /// <summary>
    /// How long the network between host and server stays down: a blip, but longer than the cluster's late-host grace
    /// (the ack timeout, 5 s), past which a host missed is taken for gone: the server must know it is only cut off. Both
    /// ends' keep-alive (a worker timeout, 1.5 s here) finds the connection dead well within it, and the host's dials
    /// during it get no answer until it is over.
    /// </summary>
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The echo, with 30 words after it: an answer takes about 4 s to write, so the network goes down under answers
    /// being written, not after the round's last one (the bare echo of a message is written in well under a second).
    /// </summary>
    private readonly ScriptedEngine _engine = LongEcho();

    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        DirectRelay = true,
        SharedSettings = FaultCluster.Settings(),
        InProcessEngine = _engine,
    });

    [Test]
    public async Task ConnectionDroppedMidAnswer_LosesNothing()
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, "direct-drop", openAiCallers: 4);
        var sending = traffic.SendRoundAsync("first");
        // Mid-answer: a streamed completion has read words of its answer, the web chats' answers under way beside it.
        await traffic.WaitUntilACompletionStreamsAsync();
        var dialled = Cluster.HostNetwork.Connections;

        // The network goes down under the host's connection (neither end told), and comes back without it: what either
        // side sent meanwhile went with it, and the host dials again.
        await Cluster.HostNetwork.GoDownAsync(Outage);
        await sending;
        await traffic.SendRoundAsync("second");

        var outcome = await FinishAsync(traffic, $"direct relay: the host's connection dropped mid-answer (network down {Outage.TotalSeconds:F0} s)");
        Assert.That(Cluster.HostNetwork.Connections, Is.GreaterThan(dialled), "the host dialled again");
        Assert.That(outcome.LongestBlocked, Is.GreaterThanOrEqualTo(Outage), "an answer was under way when the network went down");
        outcome.AssertNoNotice("a dropped connection resumes: every answer comes from the model", Cluster.Diagnostics);
        await traffic.AssertCompletionsReadTheirStoredAnswersAsync("the host's connection dropped mid-answer");
    }

    /// <summary>The echo, with 30 words after it, 100 ms between words: an answer takes about 4 s to write.</summary>
    internal static ScriptedEngine LongEcho()
    {
        var engine = ScriptedEngine.Echo(TimeSpan.FromMilliseconds(100));
        var tail = string.Join(' ', Enumerable.Range(1, 30).Select(i => $"w{i}"));
        engine.Reply = r => $"Echo: {r.Turns[^1].Content} {tail}";
        return engine;
    }

    // The relay holds its deadlines while its host is cut off: a chat may stay blocked for the outage on top.
    private static Task<FaultOutcome> FinishAsync(Traffic traffic, string fault) =>
        traffic.FinishAsync(fault, FaultCluster.BlockedAtMost + Outage);
}
