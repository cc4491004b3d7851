using System.Diagnostics;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// kill -9 of each kind of process mid-answer, then a restart, in distributed mode with the client bot on real
/// llama.cpp: 24 messages in flight (four users, six chats each) when the process dies, a second message in every
/// chat once it is back. How "nothing lost" is checked: <see cref="Traffic.CheckAsync"/>.
/// </summary>
[NonParallelizable]
public sealed class ProcessKillTests : ClusterFixture
{
    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        SharedSettings = FaultCluster.Settings(),
        ClientBotProcess = FaultCluster.LlamaClientBot(),
    });

    [Test]
    public async Task ClientBotKilledMidAnswer_ThenRestarted_LosesNothing()
    {
        // With OpenAI clients too: a stream cut by the kill goes on from what it had sent when the server hands the
        // request to the restarted client bot (it saw every piece of the answer and sends what was shown with it).
        using var traffic = await Traffic.PrepareAsync(Cluster, "client-kill", openAiCallers: 4);
        // Streamed answers of 300 tokens take seconds to write (1.6 s alone on a quiet machine, the 32-token default 0.13 s):
        // the kill falls in the middle of one, not after its end, and within the cluster's 30 s completion timeout.
        traffic.StreamedMaxTokens = 300;
        await FaultCluster.KillClientBotMidAnswerAsync(Cluster, traffic);

        var outcome = await FinishAsync(traffic, "kill -9 of the client bot mid-answer, restarted");
        outcome.AssertNoNotice("a host back within seconds costs no answer", Cluster.Diagnostics);
        // Every stream read to its end is the stored answer, and none ends with an error. (A restarted client bot used
        // to read, as it caught up with its channels, the dispatch its killed run had begun, and answer that attempt
        // from the beginning; its pieces then followed the killed run's on the stream. It now leaves such an attempt
        // to the server, which sends it again going on from what was shown: IBegunJobs.)
        await traffic.AssertCompletionsReadTheirStoredAnswersAsync("client bot killed mid-answer", oneWentOn: true);
    }

    [Test]
    public async Task ServerBotKilledMidAnswer_ThenRestarted_LosesNothing()
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, "server-kill");
        var sending = traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();

        await Cluster.KillAndRestartAsync(Cluster.ServerBot!, downFor: TimeSpan.FromSeconds(2));
        await sending;
        await traffic.SendRoundAsync("second");

        var outcome = await FinishAsync(traffic, "kill -9 of the server bot mid-answer, restarted");
        outcome.AssertNoNotice("a server bot back within seconds costs no answer", Cluster.Diagnostics);
    }

    [Test]
    public async Task OneOfTwoServerBotsKilledMidAnswer_NotRestarted_LosesNothing()
    {
        // Two server bots share the relay's work through the database (issue 36, item 4): the one left carries every
        // answer on, those the killed one had sent and those it would have sent.
        var second = await Cluster.StartSecondServerBotAsync();
        var first = Cluster.ServerBot!;
        try
        {
            using var traffic = await Traffic.PrepareAsync(Cluster, "server-pair-kill");
            var sending = traffic.SendRoundAsync("first");
            await traffic.WaitUntilMidAnswerAsync();

            await first.KillAsync();
            await sending;
            await traffic.SendRoundAsync("second");

            var outcome = await FinishAsync(traffic, "kill -9 of one of two server bots mid-answer, not restarted");
            Assert.That(second.HasExited, Is.False, "the other server bot still runs");
            outcome.AssertNoNotice("the other server bot carries every answer on", Cluster.Diagnostics);
        }
        finally
        {
            // The fixture's other tests run one server bot: the killed one comes back only now, and the second goes.
            await Cluster.RestartAsync(first);
            await Cluster.StopSecondServerBotAsync();
        }
    }

    [Test]
    public async Task ApiInstanceKilledMidRun_ThenRestarted_LosesNothing()
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, "api-kill");
        var sending = traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();

        // Sends keep arriving at the dying instance: some get no answer and are sent again, at the other one.
        var second = traffic.SendRoundAsync("second");
        await Cluster.KillAndRestartAsync(Cluster.ApiProcesses[0], downFor: TimeSpan.FromSeconds(1));
        await Task.WhenAll(sending, second);
        await traffic.SendRoundAsync("third");

        var outcome = await FinishAsync(traffic, "kill -9 of an API instance mid-run, restarted");
        outcome.AssertNoNotice("an API instance killed costs no answer", Cluster.Diagnostics);
    }

    [Test]
    public async Task LlamaServerKilledMidAnswer_IsRestartedByItsClientBot_LosesNothing()
    {
        // With OpenAI clients too: a stream cut by the kill goes on from what it had sent once the restarted llama-server
        // continues the answer (its client bot asks it to, from what it had written), instead of ending with an error.
        using var traffic = await Traffic.PrepareAsync(Cluster, "llama-kill", openAiCallers: 4);
        var sending = traffic.SendRoundAsync("first");
        // Mid-answer: a streamed completion has read words of its answer (the web chats' answers are under way too).
        await traffic.WaitUntilACompletionStreamsAsync();

        var llama = FaultCluster.LlamaServerOf(Cluster.ClientBotProcess!);
        Assert.That(llama, Is.Not.Null, "the client bot runs a llama-server");
        Process.GetProcessById(llama!.Value).Kill();

        await sending;
        await Cluster.WaitForWorkersAsync(online: true, within: TimeSpan.FromSeconds(60));
        await traffic.SendRoundAsync("second");

        var outcome = await FinishAsync(traffic, "kill -9 of llama-server mid-answer");
        Assert.That(FaultCluster.LlamaServerOf(Cluster.ClientBotProcess!), Is.Not.EqualTo(llama), "the client bot started a new llama-server");
        // Each generation the kill cut goes on at the restarted llama-server from what it had written; the questions that
        // had not reached it wait for it at the host, and those not yet sent wait in the server's queue while the host
        // says its engine is starting again. The model answers every one: a restarted engine is no reason for a notice.
        Assert.That(outcome.AnsweredByModel, Is.EqualTo(outcome.Stored), "every answer is the model's");
        outcome.AssertNoNotice("no notice", Cluster.Diagnostics);
        // The queue waits for the engine only as long as it takes to start again (1 s, then a second or two to load):
        // the host's heartbeat that says it is back wakes the dispatcher. Before, it waited for the dispatcher's slow
        // poll (20 s in this cluster), in about one run in six.
        Assert.That(outcome.LongestQueueStall, Is.LessThan(TimeSpan.FromSeconds(10)), "the queue moved once the engine was back");
        await traffic.AssertCompletionsReadTheirStoredAnswersAsync("llama-server killed mid-answer");
        AssertTheHostWentOn();
    }

    [Test]
    public async Task LlamaServerFrozenMidAnswer_IsStoppedAndStartedAgainByItsClientBot_LosesNothing()
    {
        // SIGSTOP: llama-server keeps its port and its connections but answers nothing, as a deadlocked one would (the
        // soak once saw a host take questions for two minutes and finish none). Its client bot's watchdog
        // (Inference:HangTimeoutSeconds, 5 s here) stops it and starts the next run, and the answers it held go on there
        // from what was written.
        using var traffic = await Traffic.PrepareAsync(Cluster, "llama-freeze", openAiCallers: 4);
        var sending = traffic.SendRoundAsync("first");
        // Mid-answer: a streamed completion has read words of its answer (the web chats' answers are under way too).
        await traffic.WaitUntilACompletionStreamsAsync();

        var llama = FaultCluster.LlamaServerOf(Cluster.ClientBotProcess!);
        Assert.That(llama, Is.Not.Null, "the client bot runs a llama-server");
        await FaultCluster.FreezeAsync(llama!.Value);

        await sending;
        await traffic.SendRoundAsync("second");

        var outcome = await FinishAsync(traffic, "llama-server frozen (SIGSTOP) mid-answer");
        Assert.That(FaultCluster.IsRunning(llama.Value), Is.False, "the frozen llama-server was stopped");
        Assert.That(FaultCluster.LlamaServerOf(Cluster.ClientBotProcess!), Is.Not.EqualTo(llama), "the client bot started a new llama-server");
        Assert.That(outcome.AnsweredByModel, Is.EqualTo(outcome.Stored), "every answer is the model's: " + Cluster.Diagnostics);
        outcome.AssertNoNotice("no notice", Cluster.Diagnostics);
        await traffic.AssertCompletionsReadTheirStoredAnswersAsync("llama-server frozen mid-answer");
        AssertTheHostWentOn();
    }

    /// <summary>
    /// The client bot went on from what it had written once its llama-server's next run was ready, instead of handing the
    /// answer back: the streams the fault cut read on without the server asking again (their attempts stay one).
    /// </summary>
    private void AssertTheHostWentOn() =>
        Assert.That(Cluster.ClientBotProcess!.Printed("its next run goes on from what was written"), Is.True,
            "the client bot went on from the answer it had written" + Environment.NewLine + Cluster.Diagnostics);

    private static Task<FaultOutcome> FinishAsync(Traffic traffic, string fault) =>
        traffic.FinishAsync(fault, FaultCluster.BlockedAtMost);
}
