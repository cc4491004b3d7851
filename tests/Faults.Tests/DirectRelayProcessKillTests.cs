using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// kill -9 mid-answer on the direct relay (issue 39), each process restarted: the API instance that runs the relay
/// (the model host dials it), and the client bot on real llama.cpp. As <see cref="ProcessKillTests"/> does over Discord:
/// 24 web messages and four OpenAI clients' completions in flight when the process dies, another round once it is back.
/// </summary>
[NonParallelizable]
public sealed class DirectRelayProcessKillTests : ClusterFixture
{
    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        DirectRelay = true,
        SharedSettings = FaultCluster.Settings(),
        ClientBotProcess = FaultCluster.LlamaClientBot(),
    });

    [Test]
    public async Task RelayingApiInstanceKilledMidAnswer_ThenRestarted_LosesNothing()
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, "direct-api-kill", openAiCallers: 4);
        var sending = traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();
        var dialled = Cluster.HostNetwork.Connections;

        // It relays and serves: sends keep arriving at it as it dies (some get no answer and are sent again, at the other
        // instance, which queues them for the relay's return), and the host's connection goes with it.
        var second = traffic.SendRoundAsync("second");
        await Cluster.KillAndRestartAsync(Cluster.ApiProcesses[0], downFor: TimeSpan.FromSeconds(2));
        await Task.WhenAll(sending, second);
        await traffic.SendRoundAsync("third");

        var outcome = await FinishAsync(traffic, "direct relay: kill -9 of the relaying API instance mid-answer, restarted");
        Assert.That(Cluster.HostNetwork.Connections, Is.GreaterThan(dialled), "the host dialled the restarted instance");
        outcome.AssertNoNotice("a relay back within seconds costs no answer", Cluster.Diagnostics);
        await traffic.AssertCompletionsReadTheirStoredAnswersAsync("the relaying API instance killed mid-answer");
    }

    [Test]
    public async Task ClientBotKilledMidAnswer_ThenRestarted_LosesNothing()
    {
        // As over Discord (ProcessKillTests): long streamed answers, so the kill cuts one mid-answer, and the stream goes
        // on from what it had read when the server hands the request to the restarted client bot. Longer than over
        // Discord: the test model wrote 300 tokens in 0.47 s here, and in one run of eight both streamed answers were
        // written before the kill (the stream's first words reached its client through the loaded API later than the
        // engine wrote its last); 800 (of a slot's 1,024, the prompt and a continuation's budget included) take over a
        // second.
        using var traffic = await Traffic.PrepareAsync(Cluster, "direct-client-kill", openAiCallers: 4);
        traffic.StreamedMaxTokens = 800;
        await FaultCluster.KillClientBotMidAnswerAsync(Cluster, traffic);

        var outcome = await FinishAsync(traffic, "direct relay: kill -9 of the client bot mid-answer, restarted");
        outcome.AssertNoNotice("a host back within seconds costs no answer", Cluster.Diagnostics);
        await traffic.AssertCompletionsReadTheirStoredAnswersAsync("client bot killed mid-answer", oneWentOn: true);
    }

    private static Task<FaultOutcome> FinishAsync(Traffic traffic, string fault) =>
        traffic.FinishAsync(fault, FaultCluster.BlockedAtMost);
}
