using System.Diagnostics;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// Faults inside the answer's own path: the database refusing an answer write (a trigger of the test's, so the refusal
/// comes from PostgreSQL itself), and a model whose output is full of control characters and broken UTF-16.
/// </summary>
[NonParallelizable]
public sealed class StoreAndModelFaultTests : ClusterFixture
{
    private readonly ScriptedEngine _engine = ScriptedEngine.Echo(TimeSpan.FromMilliseconds(100));

    protected override Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions
    {
        SharedSettings = FaultCluster.Settings(),
        InProcessEngine = _engine,
    });

    [TearDown]
    public async Task Reset()
    {
        _engine.Pieces = null;
        await Cluster.QueryAsync<object>("DROP TRIGGER IF EXISTS refuse_one_answer ON messages");
    }

    [Test]
    public async Task DatabaseRefusingOneAnswerWrite_EndsThatRequestWithANoticeAtOnce_AndLosesNothing()
    {
        // The database refuses, for good, the model's answer to the one message chat 3 gets accepted in the first round
        // (as a constraint violation would refuse it): every try, whether the answer is written alone or in a group with
        // others (the group writer then tries each row alone, so only this row fails). A refusal of "the first answer
        // written" would not do: a group holding it fails whole, and its rows tried alone come after that first one.
        await Cluster.QueryAsync<object>("""
            CREATE OR REPLACE FUNCTION refuse_one_answer() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.role = 'assistant' AND NEW.source = 'model' AND NEW.content LIKE '%refused-write first chat 3 try %' THEN
                    RAISE EXCEPTION 'injected refusal of an answer' USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
            END $$
            """);
        await Cluster.QueryAsync<object>("""
            CREATE TRIGGER refuse_one_answer BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_one_answer()
            """);
        using var traffic = await Traffic.PrepareAsync(Cluster, "refused-write");
        await traffic.SendRoundAsync("first");
        await traffic.SendRoundAsync("second");

        var outcome = await traffic.FinishAsync("the database refusing one answer write (injected)", FaultCluster.BlockedAtMost);
        var ids = traffic.Chats.ToArray();
        // Which requests ended because their answer could not be stored, and what they asked: that one is the only notice.
        var unstorable = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM relay_requests r WHERE r.session_id = ANY(@ids) AND r.error = 'answer_not_stored'",
            new { ids });
        var chosen = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM relay_requests r JOIN messages u ON u.id = r.user_message_id " +
            "WHERE r.session_id = ANY(@ids) AND r.error = 'answer_not_stored' AND u.content LIKE 'refused-write first chat 3 try %'",
            new { ids });
        Assert.Multiple(() =>
        {
            Assert.That(unstorable, Is.EqualTo(1), "only the refused answer ends as not stored; its group-mates are stored");
            Assert.That(chosen, Is.EqualTo(1), "the one refused is the chosen one");
            Assert.That(outcome.AnsweredByNotice, Is.EqualTo(1), "the refused answer's notice, and no other");
            Assert.That(outcome.LongestAfterDispatch, Is.LessThan(FaultCluster.CompletionTimeout),
                "a store that refuses ends the request at once, not at the completion timeout");
        });
    }

    [Test]
    public async Task ServerBotFrozenLongerThanTheHostsGrace_ThenThawed_TheModelAnswersEveryMessage()
    {
        // SIGSTOP of the server bot for longer than a host may stay silent before it counts as gone (the larger of the
        // ack and worker timeouts): as a machine that stalls a process — swapping, a starved or migrated VM, CI's load —
        // would. What the host sent meanwhile waits unread in the server bot's sockets, with the questions the API
        // queued meanwhile. Thawed, the server bot must not take the host it has not read yet for gone: the model
        // answers every question, none gets the "no host" fallback.
        using var traffic = await Traffic.PrepareAsync(Cluster, "server-freeze");
        await traffic.SendRoundAsync("first");
        await traffic.WaitUntilSettledAsync(FaultCluster.SettleWithin);

        var serverBot = Cluster.ServerBot!.Id;
        await FaultCluster.FreezeAsync(serverBot);
        var frozen = Stopwatch.StartNew();
        var sending = traffic.SendRoundAsync("second");
        await Task.Delay(FaultCluster.AckTimeout + TimeSpan.FromSeconds(3) - frozen.Elapsed);
        await FaultCluster.ThawAsync(serverBot);
        await sending;
        await traffic.SendRoundAsync("third");

        var outcome = await traffic.FinishAsync("the server bot frozen (SIGSTOP) for 8 s between answers",
            FaultCluster.BlockedAtMost);
        Assert.That(outcome.AnsweredByModel, Is.EqualTo(outcome.Stored), "every answer is the model's: " + Cluster.Diagnostics);
        outcome.AssertNoNotice("a server bot stalled for seconds costs no answer", Cluster.Diagnostics);
    }

    [Test]
    public async Task ModelOutputFullOfControlCharacters_IsStoredCleaned_AndLosesNothing()
    {
        _engine.Pieces = CleanedAnswers.BrokenModel;
        using var traffic = await Traffic.PrepareAsync(Cluster, "control-characters");
        await traffic.SendRoundAsync("first");
        await traffic.SendRoundAsync("second");

        var outcome = await traffic.FinishAsync("a model answer full of control characters and broken UTF-16",
            FaultCluster.BlockedAtMost);
        await CleanedAnswers.AssertEachIsTheModelsAsync(Cluster, traffic, outcome);
    }
}
