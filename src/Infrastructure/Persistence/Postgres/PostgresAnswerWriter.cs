using System.Threading.Channels;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Npgsql;
using NpgsqlTypes;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Stores the process's answers together (group commit): an answer waits while the writers' statements run, and the
/// next statement stores everything that waited meanwhile, up to <see cref="MaxBatch"/>. An idle relay pays no delay
/// (a lone answer goes at once, alone); a busy one pays one statement, one commit and one round trip per batch
/// instead of per answer, so the busier it is the less each answer costs.
/// Each row is still conditional on its request's status, as in
/// <see cref="PostgresRelayRequestRepository.TryUpdateWithAnswerAsync"/>, and each caller learns its own row's
/// result. A statement that fails on one row's data fails the whole batch; its rows are then stored one by one, so the
/// error reaches that row's caller only.
/// </summary>
internal sealed class PostgresAnswerWriter : IAsyncDisposable
{
    /// <summary>The most answers one statement stores.</summary>
    internal const int MaxBatch = 64;

    // Two statements may run at once: a row lock held by another transaction then stalls half the answers, not all.
    private const int Writers = 2;

    private readonly NpgsqlDataSource _dataSource;
    private readonly Channel<Pending> _waiting = Channel.CreateUnbounded<Pending>();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lazy<Task> _writers;

    public PostgresAnswerWriter(NpgsqlDataSource dataSource)
    {
        _dataSource = dataSource;
        _writers = new Lazy<Task>(() => Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(WriteAsync))));
    }

    /// <summary>
    /// True when stored; false when the request's stored status was no longer <paramref name="expected"/> (nothing is
    /// stored then). A cancelled caller stops waiting, but an answer already queued may still be stored.
    /// </summary>
    public Task<bool> TryStoreAsync(
        RelayRequest request, RelayRequestStatus expected, Message answer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(answer);
        if (answer.RequestId != request.Id)
        {
            throw new ArgumentException("The answer must belong to the request it is stored with.", nameof(answer));
        }

        _ = _writers.Value;
        var pending = new Pending(request, expected, answer);
        if (!_waiting.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(PostgresAnswerWriter));
        }

        return pending.Stored.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _waiting.Writer.TryComplete();
        await _stopping.CancelAsync();
        if (_writers.IsValueCreated)
        {
            await _writers.Value.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        while (_waiting.Reader.TryRead(out var pending))
        {
            pending.Stored.TrySetException(new ObjectDisposedException(nameof(PostgresAnswerWriter)));
        }

        _stopping.Dispose();
    }

    private async Task WriteAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        var ids = new HashSet<RelayRequestId>();
        Pending? carried = null;
        try
        {
            while (carried is not null || await _waiting.Reader.WaitToReadAsync(_stopping.Token))
            {
                if (carried is not null)
                {
                    batch.Add(carried);
                    ids.Add(carried.Request.Id);
                    carried = null;
                }

                while (batch.Count < MaxBatch && _waiting.Reader.TryRead(out var pending))
                {
                    // The same request twice in one statement would update its row once but insert both answers: the
                    // second waits for the next statement, where the first one's write decides it.
                    if (!ids.Add(pending.Request.Id))
                    {
                        carried = pending;
                        break;
                    }

                    batch.Add(pending);
                }

                await StoreAndTellAsync(batch);
                batch.Clear();
                ids.Clear();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            carried?.Stored.TrySetException(new ObjectDisposedException(nameof(PostgresAnswerWriter)));
        }
    }

    private async Task StoreAndTellAsync(IReadOnlyList<Pending> batch)
    {
        try
        {
            var stored = await StoreAsync(batch);
            foreach (var pending in batch)
            {
                pending.Stored.TrySetResult(stored.Contains(pending.Request.Id.Value));
            }
        }
        catch (PostgresException ex) when (batch.Count > 1 && IsAboutTheData(ex))
        {
            foreach (var pending in batch)
            {
                await StoreAndTellAsync([pending]);
            }
        }
        catch (Exception ex)
        {
            foreach (var pending in batch)
            {
                pending.Stored.TrySetException(ex);
            }
        }
    }

    // Class 22 (data exception) and 23 (integrity constraint violation) are about a row; anything else (the
    // connection, the server) would fail each row alone just the same.
    private static bool IsAboutTheData(PostgresException ex) =>
        ex.SqlState.StartsWith("22", StringComparison.Ordinal) || ex.SqlState.StartsWith("23", StringComparison.Ordinal);

    /// <summary>One statement: the conditional updates, and the answers inserted from the rows they return.</summary>
    private async Task<HashSet<Guid>> StoreAsync(IReadOnlyList<Pending> batch)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(_stopping.Token);
        await using var command = new NpgsqlCommand($"""
            WITH v AS (
                SELECT *
                FROM unnest({PostgresRelayRequestRepository.StateArrays}, @Expected,
                            @MessageIds, @MessageSessionIds, @MessageRoles, @MessageContents, @MessageSources,
                            @MessagePromptTokens, @MessageCompletionTokens, @MessageCreatedAt)
                     AS v ({PostgresRelayRequestRepository.StateColumns}, expected,
                           message_id, message_session_id, message_role, message_content, message_source,
                           message_prompt_tokens, message_completion_tokens, message_created_at)),
            updated AS (
                {PostgresRelayRequestRepository.UpdateStateFromV}
                FROM v
                WHERE r.id = v.id AND r.status = v.expected
                RETURNING r.id)
            INSERT INTO messages ({PostgresMessageRepository.InsertColumns})
            SELECT v.message_id, v.message_session_id, v.message_role, v.message_content, v.message_source,
                   v.message_prompt_tokens, v.message_completion_tokens, v.id, v.message_created_at
            FROM v JOIN updated ON updated.id = v.id
            RETURNING request_id
            """, connection);
        var parameters = command.Parameters;
        PostgresRelayRequestRepository.AddStateArrays(parameters, batch.Select(p => p.Request).ToList());
        parameters.AddWithValue("Expected", NpgsqlDbType.Array | NpgsqlDbType.Text,
            batch.Select(p => SqlValues.Lower(p.Expected)).ToArray());
        var answers = batch.Select(p => PostgresMessageRepository.Values(p.Answer)).ToList();
        parameters.AddWithValue("MessageIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid, answers.Select(a => a.Id).ToArray());
        parameters.AddWithValue("MessageSessionIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid,
            answers.Select(a => a.SessionId).ToArray());
        parameters.AddWithValue("MessageRoles", NpgsqlDbType.Array | NpgsqlDbType.Text, answers.Select(a => a.Role).ToArray());
        parameters.AddWithValue("MessageContents", NpgsqlDbType.Array | NpgsqlDbType.Text,
            answers.Select(a => a.Content).ToArray());
        parameters.AddWithValue("MessageSources", NpgsqlDbType.Array | NpgsqlDbType.Text,
            answers.Select(a => a.Source).ToArray());
        parameters.AddWithValue("MessagePromptTokens", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            answers.Select(a => a.PromptTokens).ToArray());
        parameters.AddWithValue("MessageCompletionTokens", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            answers.Select(a => a.CompletionTokens).ToArray());
        parameters.AddWithValue("MessageCreatedAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            answers.Select(a => a.CreatedAt).ToArray());

        var stored = new HashSet<Guid>();
        await using var reader = await command.ExecuteReaderAsync(_stopping.Token);
        while (await reader.ReadAsync(_stopping.Token))
        {
            stored.Add(reader.GetGuid(0));
        }

        return stored;
    }

    private sealed class Pending(RelayRequest request, RelayRequestStatus expected, Message answer)
    {
        public RelayRequest Request { get; } = request;

        public RelayRequestStatus Expected { get; } = expected;

        public Message Answer { get; } = answer;

        public TaskCompletionSource<bool> Stored { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
