using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>
/// Answers stored at the same moment from many scopes share statements (group commit); each must still be decided on
/// its own row, and reach its own caller.
/// </summary>
[TestFixture]
public sealed class PostgresAnswerWriterTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Test]
    public async Task ManyAnswersAtOnce_EachStoredWithItsRequest_AndAStaleOneRefusedAlone()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        var (chat, requests) = await DispatchedRequestsAsync(db, 40);
        var stale = requests[7];
        await SetStatusAsync(db, stale.Id, "cancelled");

        var answers = requests.Select((r, i) => Answer(chat, r, $"answer {i}")).ToList();
        var results = await StoreAllAsync(db, requests, answers);

        for (var i = 0; i < requests.Count; i++)
        {
            Assert.That(results[i], Is.EqualTo(requests[i] != stale), $"request {i}");
        }

        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages WHERE role = 'assistant'"), Is.EqualTo(39));
        Assert.That(await db.ScalarAsync<long>(
            "SELECT COUNT(*) FROM relay_requests r JOIN messages m ON m.id = r.answer_message_id AND m.request_id = r.id " +
            "WHERE r.status = 'completed'"), Is.EqualTo(39), "every completed request points at its own answer");
        Assert.That(await db.ScalarAsync<string>(
            $"SELECT status::text FROM relay_requests WHERE id = '{stale.Id.Value}'"), Is.EqualTo("cancelled"));
        // Rows written by one statement share its transaction id: the 38 answers sent while both writers were held
        // went in a few statements, not one each.
        Assert.That(await db.ScalarAsync<long>(
            "SELECT COUNT(DISTINCT xmin::text) FROM messages WHERE role = 'assistant'"), Is.LessThanOrEqualTo(10));
    }

    [Test]
    public async Task AnAnswerThatBreaksAConstraint_FailsItsOwnCallerOnly()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        var (chat, requests) = await DispatchedRequestsAsync(db, 10);
        var answers = requests.Select((r, i) => Answer(chat, r, $"answer {i}")).ToList();
        // The fourth answer reuses the id of a message already stored: its insert violates the primary key.
        var taken = await db.ScalarAsync<Guid>("SELECT id FROM messages ORDER BY seq LIMIT 1");
        answers[3] = Message.Restore(new MessageId(taken), chat.Id, MessageRole.Assistant, "duplicate", MessageSource.Model,
            null, requests[3].Id, At(30));
        requests[3].Complete(answers[3].Id, At(30));

        var outcomes = await StoreAllSettledAsync(db, requests, answers);

        Assert.That(outcomes[3].Exception?.InnerException, Is.InstanceOf<PostgresException>()
            .With.Property(nameof(PostgresException.SqlState)).EqualTo(PostgresErrorCodes.UniqueViolation));
        Assert.That(outcomes.Where((_, i) => i != 3).Select(o => o.IsCompletedSuccessfully && o.Result), Is.All.True);
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE status = 'completed'"),
            Is.EqualTo(9));
        Assert.That(await db.ScalarAsync<string>(
            $"SELECT status::text FROM relay_requests WHERE id = '{requests[3].Id.Value}'"), Is.EqualTo("dispatched"));
    }

    [Test]
    public async Task TwoAnswersToOneRequestAtOnce_OnlyOneIsStored()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        var (chat, requests) = await DispatchedRequestsAsync(db, 3);
        var target = requests[2];
        var again = RelayRequest.Restore(target.Id, target.SessionId, target.UserId, target.UserMessageId,
            target.Sampling, RelayRequestStatus.Dispatched, target.Attempts, target.LastSeq, target.CreatedAt,
            target.DispatchedAt, target.AckedAt, target.AckDeadline, target.CompletionDeadline, null, null, null, null);
        var answers = new[] { Answer(chat, requests[0], "a"), Answer(chat, requests[1], "b"),
            Answer(chat, target, "first"), Answer(chat, again, "second") };

        var results = await StoreAllAsync(db, [requests[0], requests[1], target, again], answers);

        Assert.That(results[..2], Is.All.True);
        Assert.That(results[2..].Count(stored => stored), Is.EqualTo(1));
        Assert.That(await db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM messages WHERE request_id = '{target.Id.Value}'"), Is.EqualTo(1));
    }

    private static Message Answer(ChatSession chat, RelayRequest request, string content)
    {
        var answer = Message.Answer(chat.Id, request.Id, content, MessageSource.Model, new TokenCounts(3, 2), At(30));
        request.Complete(answer.Id, At(30));
        return answer;
    }

    private static async Task<(ChatSession Chat, List<RelayRequest> Requests)> DispatchedRequestsAsync(
        PostgresTestDatabase db, int count)
    {
        await using var scope = db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        var repository = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var requests = new List<RelayRequest>();
        for (var i = 0; i < count; i++)
        {
            var request = await AddRequestAsync(scope.ServiceProvider, chat, owner, At(1 + i));
            request.Dispatch(At(20), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
            await repository.UpdateAsync(request, None);
            requests.Add(request);
        }

        return (chat, requests);
    }

    private static async Task SetStatusAsync(PostgresTestDatabase db, RelayRequestId id, string status)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("UPDATE relay_requests SET status = @Status WHERE id = @Id", connection);
        command.Parameters.AddWithValue("Status", status);
        command.Parameters.AddWithValue("Id", id.Value);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<bool[]> StoreAllAsync(
        PostgresTestDatabase db, IReadOnlyList<RelayRequest> requests, IReadOnlyList<Message> answers) =>
        await Task.WhenAll(await StoreAllSettledAsync(db, requests, answers));

    /// <summary>
    /// Stores every answer from a scope of its own. The first two requests' rows are locked by another transaction
    /// first and their answers sent, so both of the process's writers wait on them; the answers sent meanwhile queue
    /// up and, once the lock goes, are stored together.
    /// </summary>
    private static async Task<Task<bool>[]> StoreAllSettledAsync(
        PostgresTestDatabase db, IReadOnlyList<RelayRequest> requests, IReadOnlyList<Message> answers)
    {
        await using var holder = new NpgsqlConnection(db.ConnectionString);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockRows = new NpgsqlCommand(
                         "SELECT 1 FROM relay_requests WHERE id = ANY(@Ids) FOR UPDATE", holder, hold))
        {
            lockRows.Parameters.AddWithValue("Ids", requests.Take(2).Select(r => r.Id.Value).ToArray());
            await lockRows.ExecuteNonQueryAsync();
        }

        Task<bool> Store(int i) => Task.Run(async () =>
        {
            await using var scope = db.Scope();
            return await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .TryUpdateWithAnswerAsync(requests[i], RelayRequestStatus.Dispatched, answers[i], None);
        });

        var stores = new List<Task<bool>> { Store(0) };
        await WaitForLockWaitersAsync(db, 1);
        stores.Add(Store(1));
        await WaitForLockWaitersAsync(db, 2);
        stores.AddRange(Enumerable.Range(2, requests.Count - 2).Select(Store));
        await Task.Delay(TimeSpan.FromSeconds(1));

        await hold.CommitAsync();
        await Task.WhenAll(stores).ContinueWith(_ => { }, TaskScheduler.Default);
        return [.. stores];
    }

    private static async Task WaitForLockWaitersAsync(PostgresTestDatabase db, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await db.ScalarAsync<long>(
                   "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") < count)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"{count} answer statements never waited on the locked rows");
            await Task.Delay(20);
        }
    }
}
