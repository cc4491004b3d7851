using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// An answer full of control characters and broken UTF-16 that goes on in a second run of the engine must join the
/// model's text exactly: the engine is lost mid-answer, and either the host asks its next run to write on from what it
/// wrote (the engine's own output, controls and broken halves included), or, with <c>Relay:EngineLostRetries</c> 0 on
/// the host, hands the request back and the server sends it again to write on from what it stored of it (cleaned). A
/// host judged quiet under load has its answers go on the second way.
/// </summary>
[TestFixture(false)]
[TestFixture(true)]
[NonParallelizable]
public sealed class BrokenModelGoingOnFaultTests(bool handedBack) : ClusterFixture
{
    private readonly ScriptedEngine _engine = ScriptedEngine.Echo(TimeSpan.FromMilliseconds(100));

    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        SharedSettings = FaultCluster.Settings(),
        InProcessEngine = _engine,
        InProcessClientBotSettings = handedBack
            ? new Dictionary<string, string> { ["Relay:EngineLostRetries"] = "0" }
            : new Dictionary<string, string>(),
    });

    [Test]
    public async Task AnswerFullOfControlCharacters_GoingOnAfterItsEngineIsLost_IsTheModelsTextOnce()
    {
        _engine.Pieces = CleanedAnswers.BrokenModel;
        _engine.LoseEngineAfterWords = 3;
        var continued = _engine.Continuations;
        using var traffic = await Traffic.PrepareAsync(Cluster, handedBack ? "broken-handed-back" : "broken-gone-on");
        await traffic.SendRoundAsync("first");

        var outcome = await traffic.FinishAsync(handedBack
                ? "a model answer full of control characters, its engine lost mid-answer, handed back"
                : "a model answer full of control characters, its engine lost mid-answer", FaultCluster.BlockedAtMost);
        var attempts = await Cluster.QueryAsync<int>(
            "SELECT coalesce(max(attempts), 0) FROM relay_requests WHERE session_id = ANY(@ids)", new { ids = traffic.Chats.ToArray() });
        Assert.Multiple(() =>
        {
            Assert.That(_engine.Continuations - continued, Is.EqualTo(1), "the answer that lost its engine went on from its start");
            Assert.That(attempts, Is.EqualTo(handedBack ? 2 : 1), "handed back, it went on in a second attempt; else in the first");
        });
        await CleanedAnswers.AssertEachIsTheModelsAsync(Cluster, traffic, outcome);
    }
}
