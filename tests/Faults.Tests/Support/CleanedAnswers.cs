using MeatLizard.Distributed.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>A model whose output is full of control characters and broken UTF-16, and how its answers must be stored.</summary>
public static class CleanedAnswers
{
    /// <summary>A broken model: every piece wrapped in NUL and other C0 controls, and some carrying half of a surrogate pair.</summary>
    public static string BrokenModel(string piece, int index) => $"\0{piece}\u0007\u001b" + (index % 3 == 0 ? "\uD800" : "");

    /// <summary>
    /// Checks that no request of <paramref name="traffic"/> failed over its answer's text and that each answer the model
    /// gave is its whole text once (the echo of the question), stored cleaned: controls removed, broken halves replaced.
    /// </summary>
    public static async Task AssertEachIsTheModelsAsync(Cluster cluster, Traffic traffic, FaultOutcome outcome)
    {
        var ids = traffic.Chats.ToArray();
        var dirty = await cluster.QueryAsync<long>(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND session_id = ANY(@ids) AND content ~ E'[\\\\x01-\\\\x08\\\\x0b\\\\x0c\\\\x0e-\\\\x1f]'",
            new { ids });
        var cleaned = await cluster.QueryAsync<long>(
            "SELECT count(*) FROM messages a JOIN relay_requests r ON r.id = a.request_id JOIN messages u ON u.id = r.user_message_id " +
            "WHERE a.role = 'assistant' AND a.session_id = ANY(@ids) AND replace(a.content, E'\\uFFFD', '') = 'Echo: ' || u.content",
            new { ids });
        // The text itself never fails a request: none ends failed (an answer the store or the relay refused).
        var failed = await cluster.QueryAsync<long>(
            "SELECT count(*) FROM relay_requests WHERE session_id = ANY(@ids) AND status = 'failed'", new { ids });
        Assert.Multiple(() =>
        {
            Assert.That(failed, Is.Zero, "no request failed over its answer's text");
            Assert.That(outcome.AnsweredByModel, Is.EqualTo(outcome.Stored), "the model answered every one");
            Assert.That(dirty, Is.Zero, "no stored answer keeps a control character");
            Assert.That(cleaned, Is.EqualTo(outcome.AnsweredByModel),
                "each model answer is the model's text once, with the controls removed and broken halves replaced");
        });
    }
}
