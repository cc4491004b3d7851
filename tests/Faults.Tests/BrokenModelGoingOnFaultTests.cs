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
        var askedBefore = _engine.Requests.Count;
        using var traffic = await Traffic.PrepareAsync(Cluster, handedBack ? "broken-handed-back" : "broken-gone-on");
        await traffic.SendRoundAsync("first");

        var outcome = await traffic.FinishAsync(handedBack
                ? "a model answer full of control characters, its engine lost mid-answer, handed back"
                : "a model answer full of control characters, its engine lost mid-answer", FaultCluster.BlockedAtMost);
        var attempts = System.Text.Json.JsonSerializer.Deserialize<Dictionary<Guid, int>>(await Cluster.QueryAsync<string>(
            "SELECT coalesce(json_object_agg(id, attempts), '{}')::text FROM relay_requests WHERE session_id = ANY(@ids)",
            new { ids = traffic.Chats.ToArray() }))!;
        var continued = _engine.Requests.Skip(askedBefore).Where(r => r.StartToContinue is not null)
            .GroupBy(r => r.RequestId).ToDictionary(g => g.Key, g => g.Count());
        var lost = _engine.LostEngineOn ?? Guid.Empty;
        var lostAttempts = handedBack ? 2 : 1;
        // A host judged quiet (its heartbeat late under the CI's load: 1.8 s against the cluster's 1.5 s timeout, in
        // session 67's first CI) has its answers in progress put back, and each goes on from what it had shown in its
        // next attempt: 17 continuations instead of 1 there, every answer still the model's once. That is the product
        // doing right, and it shows: every other continuation is of a request sent again, and the lost one's count
        // is exact unless a request was put back besides it.
        var othersPutBack = attempts.Where(a => a.Key != lost).Count(a => a.Value > 1);
        var extra = attempts.GetValueOrDefault(lost) - lostAttempts;
        Assert.Multiple(() =>
        {
            Assert.That(attempts.ContainsKey(lost), Is.True, "the engine was lost on one of the round's answers");
            Assert.That(continued.GetValueOrDefault(lost), Is.InRange(1, othersPutBack == 0 ? 1 : 1 + extra),
                "the answer that lost its engine went on from its start");
            Assert.That(attempts.GetValueOrDefault(lost), Is.InRange(lostAttempts, othersPutBack == 0 ? lostAttempts : int.MaxValue),
                "handed back, it went on in a second attempt; else in the first");
            foreach (var (request, times) in continued.Where(c => c.Key != lost))
            {
                Assert.That(times, Is.LessThanOrEqualTo(attempts.GetValueOrDefault(request) - 1),
                    $"request {request} went on from its start only in an attempt after the first (put back: its host judged quiet)");
            }
        });
        TestContext.Out.WriteLine($"requests put back besides the one that lost its engine: {othersPutBack}");
        await CleanedAnswers.AssertEachIsTheModelsAsync(Cluster, traffic, outcome);
    }
}
