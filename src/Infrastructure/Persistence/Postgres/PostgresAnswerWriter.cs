using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Npgsql;
using NpgsqlTypes;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Stores the process's answers together (<see cref="PostgresGroupWriter{TWrite, TKey, TResult}"/>). Each row is still
/// conditional on its request's status, as in <see cref="PostgresRelayRequestRepository.TryUpdateWithAnswerAsync"/>.
/// </summary>
internal sealed class PostgresAnswerWriter(NpgsqlDataSource dataSource)
    : PostgresGroupWriter<PostgresAnswerWriter.Answer, RelayRequestId, bool>(dataSource)
{
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

        return EnqueueAsync(new Answer(request, expected, answer), cancellationToken);
    }

    // The same request twice in one statement would update its row once but insert both answers.
    protected override RelayRequestId KeyOf(Answer write) => write.Request.Id;

    /// <summary>One statement: the conditional updates, and the answers inserted from the rows they return.</summary>
    protected override async Task<bool[]> StoreAsync(IReadOnlyList<Answer> batch)
    {
        await using var connection = await DataSource.OpenConnectionAsync(Stopping);
        await using var command = new NpgsqlCommand($"""
            WITH v AS (
                SELECT *
                FROM unnest({PostgresRelayRequestRepository.StateArrays}, @Expected,
                            {PostgresMessageRepository.MessageArrays})
                     AS v ({PostgresRelayRequestRepository.StateColumns}, expected,
                           {PostgresMessageRepository.MessageArrayColumns})),
            updated AS (
                {PostgresRelayRequestRepository.UpdateStateFromV}
                FROM v
                WHERE r.id = v.id AND r.status = v.expected
                RETURNING r.id)
            INSERT INTO messages ({PostgresMessageRepository.InsertColumns})
            SELECT {PostgresMessageRepository.MessageValuesFromV}
            FROM v JOIN updated ON updated.id = v.id
            RETURNING request_id
            """, connection);
        var parameters = command.Parameters;
        PostgresRelayRequestRepository.AddStateArrays(parameters, batch.Select(a => a.Request).ToList());
        parameters.AddWithValue("Expected", NpgsqlDbType.Array | NpgsqlDbType.Text,
            batch.Select(a => SqlValues.Lower(a.Expected)).ToArray());
        PostgresMessageRepository.AddMessageArrays(parameters, batch.Select(a => a.Message));

        var stored = new HashSet<Guid>();
        await using var reader = await command.ExecuteReaderAsync(Stopping);
        while (await reader.ReadAsync(Stopping))
        {
            stored.Add(reader.GetGuid(0));
        }

        return batch.Select(a => stored.Contains(a.Request.Id.Value)).ToArray();
    }

    internal sealed record Answer(RelayRequest Request, RelayRequestStatus Expected, Message Message);
}
