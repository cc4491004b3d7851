using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>
/// Answers stored and messages queued at the same moment from many scopes share statements (group commit); each must
/// still be decided on its own row, and reach its own caller.
/// </summary>
[TestFixture]
public sealed class PostgresGroupWriterTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Test]
    public async Task ManyAnswersAtOnce_EachStoredWithItsRequest_AndAStaleOneRefusedAlone()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        var requests = await DispatchedRequestsAsync(db, 40);
        var stale = requests[7];
        await SetStatusAsync(db, stale.Id, "cancelled");

        var answers = requests.Select((r, i) => Answer(r, $"answer {i}")).ToList();
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
        var requests = await DispatchedRequestsAsync(db, 10);
        var answers = requests.Select((r, i) => Answer(r, $"answer {i}")).ToList();
        // The fourth answer reuses the id of a message already stored: its insert violates the primary key.
        var taken = await db.ScalarAsync<Guid>("SELECT id FROM messages ORDER BY seq LIMIT 1");
        answers[3] = Message.Restore(new MessageId(taken), requests[3].ChatId, MessageRole.Assistant, "duplicate", MessageSource.Model,
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
        var requests = await DispatchedRequestsAsync(db, 3);
        var target = requests[2];
        var again = RelayRequest.Restore(target.Id, target.ChatId, target.UserId, target.UserMessageId,
            target.Sampling, RelayRequestStatus.Dispatched, target.Attempts, target.LastSeq, target.CreatedAt,
            target.DispatchedAt, target.AckedAt, target.AckDeadline, target.CompletionDeadline, null, null, null, null);
        var answers = new[] { Answer(requests[0], "a"), Answer(requests[1], "b"),
            Answer(target, "first"), Answer(again, "second") };

        var results = await StoreAllAsync(db, [requests[0], requests[1], target, again], answers);

        Assert.That(results[..2], Is.All.True);
        Assert.That(results[2..].Count(stored => stored), Is.EqualTo(1));
        Assert.That(await db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM messages WHERE request_id = '{target.Id.Value}'"), Is.EqualTo(1));
    }

    [Test]
    public async Task AStatementStuckOnALockedRow_HandsTheTurnOver_SoOtherWritesAreStoredMeanwhile()
    {
        // One statement runs at a time; one waiting on a row another transaction holds must not hold up the rest.
        await using var db = await PostgresTestDatabase.CreateAsync();
        var requests = await DispatchedRequestsAsync(db, 4);
        var answers = requests.Select((r, i) => Answer(r, $"answer {i}")).ToList();
        await using var held = await HeldRows.LockAsync(db, "relay_requests", [requests[0].Id.Value]);
        Task<bool> Store(int i) => StoreAnswerAsync(db, requests[i], answers[i]);

        var stuck = Store(0);
        await WaitForLockWaitersAsync(db, 1);
        var others = await Task.WhenAll(Enumerable.Range(1, 3).Select(Store)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(others, Is.All.True, "stored while the first statement still waits");
        Assert.That(stuck.IsCompleted, Is.False, "the first statement still waits on the locked row");
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages WHERE role = 'assistant'"), Is.EqualTo(3));

        await held.ReleaseAsync();
        Assert.That(await stuck.WaitAsync(TimeSpan.FromSeconds(30)), Is.True, "stored once the lock is gone");
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages WHERE role = 'assistant'"), Is.EqualTo(4));
    }

    [Test]
    public async Task Disposed_WhileWritesWait_FailsThemAll_StoresNone_AndRefusesMore()
    {
        // The process's two writers are held on locked rows; four more writes wait for them.
        await using var db = await PostgresTestDatabase.CreateAsync();
        var requests = await DispatchedRequestsAsync(db, 7);
        var answers = requests.Select((r, i) => Answer(r, $"answer {i}")).ToList();
        await using var held = await HeldRows.LockAsync(db, "relay_requests", [.. requests.Take(2).Select(r => r.Id.Value)]);
        Task<bool> Store(int i) => StoreAnswerAsync(db, requests[i], answers[i]);

        var writes = new List<Task<bool>> { Store(0) };
        await WaitForLockWaitersAsync(db, 1);
        writes.Add(Store(1));
        await WaitForLockWaitersAsync(db, 2);
        writes.AddRange(Enumerable.Range(2, 4).Select(Store));
        await Task.Delay(TimeSpan.FromMilliseconds(500));

        var writer = db.Services.GetRequiredService<PostgresAnswerWriter>();
        await writer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(writes).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(30));
        await held.ReleaseAsync();

        Assert.That(writes[2..].Select(w => w.Exception?.InnerException), Is.All.InstanceOf<ObjectDisposedException>(),
            "the writes still waiting");
        Assert.That(writes[..2].Select(w => w.IsFaulted || w.IsCanceled), Is.All.True, "the statements cut short");
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages WHERE role = 'assistant'"), Is.Zero);
        Assert.ThrowsAsync<ObjectDisposedException>(() => Store(6));
        // The host's container disposes the writer again when it stops: that must be harmless.
        Assert.DoesNotThrowAsync(async () => await writer.DisposeAsync());
    }

    [Test]
    public async Task ManySendsAtOnce_EachDecidedOnItsOwnChat_InAFewStatements()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        var sends = await PreparedSendsAsync(db, 30);
        await using (var scope = db.Scope())
        {
            var owner = await scope.ServiceProvider.GetRequiredService<IUserRepository>()
                .GetAsync(sends[0].Chat.OwnerId, None);

            // One chat changed since it was read, one still answering an earlier message.
            await using var connection = new NpgsqlConnection(db.ConnectionString);
            await connection.OpenAsync();
            await using var touch = new NpgsqlCommand("UPDATE chat_sessions SET title = 'renamed' WHERE id = @Id", connection);
            touch.Parameters.AddWithValue("Id", sends[5].Chat.Id.Value);
            await touch.ExecuteNonQueryAsync();
            await AddRequestAsync(scope.ServiceProvider, sends[6].Chat, owner!, At(1));
        }

        var lockedChats = sends.Take(2).Select(s => s.Chat.Id.Value).ToArray();
        var outcomes = await HeldAsync(db, "chat_sessions", lockedChats, sends.Count, (scope, i) =>
            scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .TryQueueAsync(sends[i].Chat, sends[i].Version, sends[i].Message, sends[i].Request, None));
        var versions = await Task.WhenAll(outcomes);

        for (var i = 0; i < sends.Count; i++)
        {
            Assert.That(versions[i] is null, Is.EqualTo(i is 5 or 6), $"send {i}");
            if (versions[i] is { } version)
            {
                Assert.That(await db.ScalarAsync<string>(
                    $"SELECT xmin::text FROM chat_sessions WHERE id = '{sends[i].Chat.Id.Value}'"), Is.EqualTo(version),
                    "the version returned is the chat's own");
            }
        }

        Assert.That(await db.ScalarAsync<long>(
            "SELECT COUNT(*) FROM relay_requests r JOIN messages m ON m.id = r.user_message_id AND m.session_id = r.session_id " +
            "WHERE r.status = 'pending' AND m.content LIKE 'send %' AND r.temperature = 0.5 AND r.max_tokens = 64"),
            Is.EqualTo(28), "each queued request with its own message and sampling");
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages WHERE content LIKE 'send %'"), Is.EqualTo(28));
        Assert.That(await db.ScalarAsync<long>(
            "SELECT COUNT(DISTINCT xmin::text) FROM relay_requests WHERE status = 'pending' AND created_at > " +
            $"'{At(5):O}'"), Is.LessThanOrEqualTo(10));
    }

    [Test]
    public async Task SendsToAFewOfManyChats_FindTheirChatsByKey_NeverByScanningEveryChat()
    {
        // 30 chats written to among 3,000 others (and 12 from before they came), analysed as a running database is: the queueing statement and the
        // chat reads must find their chats through the primary key, whatever the table's size.
        await using var db = await PostgresTestDatabase.CreateAsync();
        // First the statements are prepared, and planned, while there are few chats, as on a new deployment.
        var early = await PreparedSendsAsync(db, 12);
        foreach (var send in early)
        {
            await using var scope = db.Scope();
            await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .TryQueueAsync(send.Chat, send.Version, send.Message, send.Request, None);
        }

        var sends = await PreparedSendsAsync(db, 30);
        await PostgresTestDatabase.ExecuteOnServerAsync(
            "INSERT INTO chat_sessions (id, owner_id, title, status, created_at, updated_at) " +
            "SELECT gen_random_uuid(), owner_id, 'another chat', 'active', created_at, updated_at " +
            "FROM (SELECT owner_id, created_at, updated_at FROM chat_sessions LIMIT 30) c CROSS JOIN generate_series(1, 100); " +
            // and the dead versions every chat's updates leave until autovacuum comes by
            string.Concat(Enumerable.Repeat("UPDATE chat_sessions SET updated_at = updated_at WHERE title = 'another chat'; ", 3)) +
            "ANALYZE chat_sessions", db.ConnectionString);
        var before = await QuiescentChatScansAsync(db, inserted: 3_042, updated: 9_012);

        var versions = await Task.WhenAll(Enumerable.Range(0, sends.Count).Select(i => Task.Run(async () =>
        {
            await using var scope = db.Scope();
            return await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .TryQueueAsync(sends[i].Chat, sends[i].Version, sends[i].Message, sends[i].Request, None);
        })));
        var after = await QuiescentChatScansAsync(db, inserted: 3_042, updated: 9_012 + sends.Count);

        Assert.That(versions, Has.All.Not.Null, "every send queued");
        Assert.That(after.Sequential - before.Sequential, Is.Zero, "sequential scans of chat_sessions");
        Assert.That(after.ByIndex - before.ByIndex, Is.Positive, "the chats were found through an index");
    }

    /// <summary>
    /// chat_sessions' scan counters once every backend has reported what it did: PostgreSQL publishes a backend's
    /// counts within about a second of its last statement, so they are read once they have not moved for 2.5 s and
    /// show at least the rows the test wrote.
    /// </summary>
    private static async Task<(long Sequential, long ByIndex)> QuiescentChatScansAsync(
        PostgresTestDatabase db, long inserted, long updated)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var last = "";
        var steadySince = DateTime.UtcNow;
        while (true)
        {
            var now = await db.ScalarAsync<string>(
                "SELECT seq_scan || ' ' || COALESCE(idx_scan, 0) || ' ' || n_tup_ins || ' ' || n_tup_upd " +
                "FROM pg_stat_user_tables WHERE relname = 'chat_sessions'");
            var parts = now.Split(' ').Select(long.Parse).ToArray();
            if (now != last)
            {
                last = now;
                steadySince = DateTime.UtcNow;
            }
            else if (parts[2] >= inserted && parts[3] >= updated && DateTime.UtcNow - steadySince > TimeSpan.FromSeconds(2.5))
            {
                return (parts[0], parts[1]);
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"chat_sessions' counters never settled: {now}");
            await Task.Delay(100);
        }
    }

    private static async Task<List<(Chat Chat, string Version, Message Message, RelayRequest Request)>> PreparedSendsAsync(
        PostgresTestDatabase db, int count)
    {
        var sends = new List<(Chat Chat, string Version, Message Message, RelayRequest Request)>();
        await using var scope = db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chats = scope.ServiceProvider.GetRequiredService<IChatRepository>();
        for (var i = 0; i < count; i++)
        {
            var chat = await AddSessionAsync(scope.ServiceProvider, owner);
            var version = (await chats.GetWithAnswerStateAsync(chat.Id, None))!.Version;
            var message = chat.PostUserMessage(owner, PromptText.From($"send {i}"), At(10 + i));
            sends.Add((chat, version, message,
                RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Create(0.5, null, 64), At(10 + i))));
        }

        return sends;
    }

    private static Message Answer(RelayRequest request, string content)
    {
        var answer = Message.Answer(request.ChatId, request.Id, content, MessageSource.Model, new TokenCounts(3, 2), At(30));
        request.Complete(answer.Id, At(30));
        return answer;
    }

    /// <summary>Dispatched requests, each in a chat of its own (a chat holds one unfinished request at a time).</summary>
    private static async Task<List<RelayRequest>> DispatchedRequestsAsync(PostgresTestDatabase db, int count)
    {
        await using var scope = db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var repository = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var requests = new List<RelayRequest>();
        for (var i = 0; i < count; i++)
        {
            var chat = await AddSessionAsync(scope.ServiceProvider, owner);
            var request = await AddRequestAsync(scope.ServiceProvider, chat, owner, At(1 + i));
            request.Dispatch(At(20), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
            await repository.UpdateAsync(request, None);
            requests.Add(request);
        }

        return requests;
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

    private static Task<Task<bool>[]> StoreAllSettledAsync(
        PostgresTestDatabase db, IReadOnlyList<RelayRequest> requests, IReadOnlyList<Message> answers) =>
        HeldAsync(db, "relay_requests", requests.Take(2).Select(r => r.Id.Value).ToArray(), requests.Count,
            (scope, i) => scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .TryUpdateWithAnswerAsync(requests[i], RelayRequestStatus.Dispatched, answers[i], None));

    /// <summary>
    /// Runs <paramref name="count"/> writes, each from a scope of its own. Two rows of <paramref name="table"/> are
    /// locked by another transaction first and the first two writes (which write them) sent, so both of the process's
    /// writers wait; the writes sent meanwhile queue up and, once the lock goes, are stored together.
    /// </summary>
    private static async Task<Task<T>[]> HeldAsync<T>(PostgresTestDatabase db, string table, Guid[] lockedRows, int count,
        Func<AsyncServiceScope, int, Task<T>> write)
    {
        await using var held = await HeldRows.LockAsync(db, table, lockedRows);

        Task<T> Write(int i) => Task.Run(async () =>
        {
            await using var scope = db.Scope();
            return await write(scope, i);
        });

        var writes = new List<Task<T>> { Write(0) };
        await WaitForLockWaitersAsync(db, 1);
        writes.Add(Write(1));
        await WaitForLockWaitersAsync(db, 2);
        writes.AddRange(Enumerable.Range(2, count - 2).Select(Write));
        await Task.Delay(TimeSpan.FromSeconds(1));

        await held.ReleaseAsync();
        await Task.WhenAll(writes).ContinueWith(_ => { }, TaskScheduler.Default);
        return [.. writes];
    }

    private static Task<bool> StoreAnswerAsync(PostgresTestDatabase db, RelayRequest request, Message answer) =>
        Task.Run(async () =>
        {
            await using var scope = db.Scope();
            return await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .TryUpdateWithAnswerAsync(request, RelayRequestStatus.Dispatched, answer, None);
        });

    /// <summary>Rows of a table locked <c>FOR UPDATE</c> by a transaction of another connection, until released.</summary>
    private sealed class HeldRows(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public static async Task<HeldRows> LockAsync(PostgresTestDatabase db, string table, Guid[] ids)
        {
            var connection = new NpgsqlConnection(db.ConnectionString);
            await connection.OpenAsync();
            var transaction = await connection.BeginTransactionAsync();
            await using var lockRows = new NpgsqlCommand(
                $"SELECT 1 FROM {table} WHERE id = ANY(@Ids) FOR UPDATE", connection, transaction);
            lockRows.Parameters.AddWithValue("Ids", ids);
            await lockRows.ExecuteNonQueryAsync();
            return new HeldRows(connection, transaction);
        }

        public Task ReleaseAsync() => transaction.CommitAsync();

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    private static async Task WaitForLockWaitersAsync(PostgresTestDatabase db, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await db.ScalarAsync<long>(
                   "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") < count)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"{count} statements never waited on the locked rows");
            await Task.Delay(20);
        }
    }
}
