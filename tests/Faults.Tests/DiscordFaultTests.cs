using System.Diagnostics;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// Discord having trouble while 24 messages are in flight: the gateway connections dropped mid-answer, the REST API
/// answering 5xx or not answering at all for 30 s, the CDN failing attachment downloads for a while. The client bot
/// runs in the test process on an echo (<see cref="ScriptedEngine.Echo"/>, 100 ms between words) (these faults do not concern llama.cpp).
/// </summary>
[NonParallelizable]
public sealed class DiscordFaultTests : ClusterFixture
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Longer than the outage, as in production (3 minutes by default): an answer the model finished during the outage
    /// reaches the server after it, within the timeout, and is stored instead of a notice.
    /// </summary>
    private static readonly TimeSpan CompletionTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The default (10 s): a request's attachment, retried through a short CDN outage, is acknowledged in time.</summary>
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(10);

    private readonly ScriptedEngine _engine = ScriptedEngine.Echo(TimeSpan.FromMilliseconds(100));

    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        SharedSettings = new Dictionary<string, string>(FaultCluster.Settings())
        {
            ["Relay__AckTimeout"] = AckTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            ["Relay__CompletionTimeout"] = CompletionTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        },
        InProcessEngine = _engine,
    });

    [Test]
    public async Task GatewayDroppedMidAnswer_LosesNothing()
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, "gateway-drop");
        var sending = traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();

        await Task.WhenAll(Cluster.Discord.DropConnectionAsync(Cluster.ServerBotUser), Cluster.Discord.DropConnectionAsync(Cluster.ClientBotUser));
        await sending;
        await traffic.SendRoundAsync("second");

        var outcome = await FinishAsync(traffic, "Discord gateway of both bots dropped mid-answer");
        outcome.AssertNoNotice("a dropped gateway is resumed or caught up: every answer comes from the model", Cluster.Diagnostics);
    }

    [TestCase(false, TestName = "RestAnswering5xxFor30s_LosesNothing")]
    [TestCase(true, TestName = "RestNotAnsweringFor30s_LosesNothing")]
    public async Task RestOutage_LosesNothing(bool hang)
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, hang ? "rest-timeout" : "rest-5xx", openAiCallers: 4);
        var sending = traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();

        Cluster.Discord.StartRestOutage(Outage, hang);
        var outage = Stopwatch.StartNew();
        await sending;
        // Past the worker timeout the presence store lists no host (their heartbeats cannot come while Discord is out):
        // completions asked then are queued and held for the hosts, as web sends are, not refused.
        await Task.Delay(Max(TimeSpan.Zero, Outage / 3 - outage.Elapsed));
        var during = traffic.CompleteRoundAsync("during");
        await Task.Delay(Max(TimeSpan.Zero, Outage - outage.Elapsed));
        // Just after it the hosts' heartbeats are still catching up (the client bot's own calls back off, up to
        // LongestBackoff): completions asked then, of either API instance, are held for them, not refused. A round every
        // second until the longest catch-up is over.
        var after = new List<Task>();
        while (outage.Elapsed < Outage + DiscordRestClient.LongestBackoff + TimeSpan.FromSeconds(1))
        {
            after.Add(traffic.CompleteRoundAsync($"after {after.Count}"));
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        await Task.WhenAll(after.Append(during));
        await traffic.SendRoundAsync("second");

        // The relay holds its deadlines while Discord is out and sends again what could not go: a chat may stay
        // blocked for the outage on top of its answer, and every answer is the model's.
        var outcome = await FinishAsync(traffic, hang
            ? "Discord REST not answering for 30 s mid-answer"
            : "Discord REST answering 502/503 for 30 s mid-answer", extraBlocked: Outage);
        Assert.That(Cluster.Discord.OutageRefusals, Is.Positive, "the bots met the outage");
        outcome.AssertNoNotice("an outage shorter than the timeouts costs no answer", Cluster.Diagnostics);
        traffic.AssertNoCompletionRefusedForNoHost("the hosts' heartbeats were only hidden by the outage");
    }

    [Test]
    public async Task RestAnswering5xxFor10s_WithTwoServerBots_AndSendsBeforeDuringAndAfter_LosesNothing()
    {
        // Two server bots share the relay's work: questions asked before, during and just after a short outage are held
        // through it by whichever bot dispatches them — including one whose own calls never met the outage (the soak's
        // first run lost answers to notices this way: docs/reliability.md, "Soak").
        var outage = TimeSpan.FromSeconds(10);
        await Cluster.StartSecondServerBotAsync();
        try
        {
            using var traffic = await Traffic.PrepareAsync(Cluster, "pair-rest-5xx", openAiCallers: 4);
            var sending = traffic.SendRoundAsync("before", chats: ..8);
            await traffic.WaitUntilMidAnswerAsync();

            Cluster.Discord.StartRestOutage(outage, hang: false);
            await sending;
            await Task.Delay(outage / 2);
            var completing = traffic.CompleteRoundAsync("during");
            await traffic.SendRoundAsync("during", chats: 8..16);
            await Task.Delay(outage / 2 + TimeSpan.FromMilliseconds(500));
            await traffic.SendRoundAsync("after", chats: 16..);
            await completing;
            await traffic.SendRoundAsync("second");

            var outcome = await FinishAsync(traffic, "Discord REST answering 503 for 10 s, two server bots, sends before, during and after",
                extraBlocked: outage);
            Assert.That(Cluster.Discord.OutageRefusals, Is.Positive, "the bots met the outage");
            outcome.AssertNoNotice("the pair holds questions through a short outage as one bot does", Cluster.Diagnostics);
            traffic.AssertNoCompletionRefusedForNoHost("the hosts' heartbeats were only hidden by the outage");
        }
        finally
        {
            await Cluster.StopSecondServerBotAsync();
        }
    }

    [Test]
    public async Task AttachmentDownloadsFailingForAWhile_LoseNothing()
    {
        // Texts of 4,000 characters travel as attachments both ways (the echo makes the answer as long). The CDN fails
        // every download for 3 s at the start of each round: retried with back-off, each within the ack timeout.
        using var traffic = await Traffic.PrepareAsync(Cluster, "attachments", padding: 4000);
        Cluster.Discord.FailAttachmentDownloadsFor(TimeSpan.FromSeconds(3));
        await traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();
        Cluster.Discord.FailAttachmentDownloadsFor(TimeSpan.FromSeconds(3));
        await traffic.SendRoundAsync("second");

        var outcome = await FinishAsync(traffic, "attachment downloads failing for 3 s, twice");
        outcome.AssertNoNotice("downloads retried within the ack timeout cost no answer", Cluster.Diagnostics);
        Assert.That(Cluster.Discord.AttachmentRefusals, Is.GreaterThanOrEqualTo(24), "the bots met the failing downloads");
    }

    private static Task<FaultOutcome> FinishAsync(Traffic traffic, string fault, TimeSpan extraBlocked = default) =>
        traffic.FinishAsync(fault, AckTimeout + CompletionTimeout + TimeSpan.FromSeconds(15) + extraBlocked);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
