using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// A second API instance taking a host over on the direct relay (issue 39): both instances run the relay behind one
/// address (<see cref="ClusterOptions.DirectRelayOnEveryInstance"/>, the host network standing for the load balancer),
/// and the host dials the first. It is killed -9 mid-answer and never comes back: the host dials again, reaching the
/// second, which sends it what waits and finishes what the first had given it. The client bot runs in the test process
/// on an echo (<see cref="DirectRelayConnectionTests.LongEcho"/>), so the host's answers go on through the kill.
/// </summary>
[NonParallelizable]
public sealed class DirectRelayTakeOverTests : ClusterFixture
{
    private readonly ScriptedEngine _engine = DirectRelayConnectionTests.LongEcho();

    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        DirectRelay = true,
        DirectRelayOnEveryInstance = true,
        SharedSettings = FaultCluster.Settings(),
        InProcessEngine = _engine,
    });

    [Test]
    public async Task TheInstanceAHostDialledKilledMidAnswer_TheOtherTakesItOver_AndEveryAnswerIsTheModels()
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, "direct-takeover", openAiCallers: 4);
        var sending = traffic.SendRoundAsync("first");
        // Mid-answer: a streamed completion has read words of its answer. Not "one answer stored and one still at the
        // host": this host has no slot count, so the round's answers, all as long, were dispatched within 54 ms of each
        // other and end as close together, and a poll of the database on a loaded CI machine stepped over that window.
        await traffic.WaitUntilACompletionStreamsAsync();
        var dialled = Cluster.HostNetwork.Connections;

        // Sends keep arriving at both as the first dies (those at it get no answer, and are sent again at the other).
        var second = traffic.SendRoundAsync("second");
        await Cluster.ApiProcesses[0].KillAsync();
        await Task.WhenAll(sending, second);
        await traffic.SendRoundAsync("third");

        var outcome = await traffic.FinishAsync("direct relay on both API instances: the one the host dialled killed -9 mid-answer, not restarted",
            FaultCluster.BlockedAtMost);
        Assert.That(Cluster.HostNetwork.Connections, Is.GreaterThan(dialled), "the host dialled again, reaching the second instance");
        outcome.AssertNoNotice("the second instance takes the host over: every answer comes from the model", Cluster.Diagnostics);
        await traffic.AssertCompletionsReadTheirStoredAnswersAsync("the API instance the host dialled killed mid-answer");
    }
}
