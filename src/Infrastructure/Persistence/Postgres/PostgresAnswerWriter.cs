using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Infrastructure.Persistence.Sql;
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
    /// True when stored; false when the request's stored status was no longer <paramref name="expected"/>, or it is of a
    /// later attempt (<see cref="Sql.RelayRequestValues.NoLaterAttempt"/>): nothing is stored then. A cancelled caller stops waiting, but an answer already queued may still be stored.
    /// </summary>
    public Task<bool> TryStoreAsync(PostgresSession session,
        RelayRequest request, RelayRequestStatus expected, Message answer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(answer);
        if (answer.RequestId != request.Id)
        {
            throw new ArgumentException("The answer must belong to the request it is stored with.", nameof(answer));
        }

        return WriteAsync(session, new Answer(request, expected, answer), cancellationToken);
    }

    // The same request twice in one statement would update its row once but insert both answers.
    protected override RelayRequestId KeyOf(Answer write) => write.Request.Id;

    /// <summary>One statement: the conditional updates, and the answers inserted from the rows they return.</summary>
    protected override string Sql => $"""
            WITH v AS (
                SELECT *
                FROM unnest({PostgresRelayRequestRepository.StateArrays}, @Expected,
                            {PostgresMessageArrays.MessageArrays})
                     AS v ({PostgresRelayRequestRepository.StateColumns}, expected,
                           {PostgresMessageArrays.MessageArrayColumns})),
            updated AS (
                {PostgresRelayRequestRepository.UpdateStateFromV}
                FROM v
                WHERE r.id = v.id AND r.status = v.expected AND r.attempts <= v.attempts
                RETURNING r.id)
            INSERT INTO messages ({SqlMessageRepository.InsertColumns})
            SELECT {PostgresMessageArrays.MessageValuesFromV}
            FROM v JOIN updated ON updated.id = v.id
            RETURNING request_id
            """;

    protected override void Bind(NpgsqlParameterCollection parameters, IReadOnlyList<Answer> batch)
    {
        PostgresRelayRequestRepository.AddStateArrays(parameters, batch.Select(a => a.Request).ToList());
        parameters.AddWithValue("Expected", NpgsqlDbType.Array | NpgsqlDbType.Text,
            batch.Select(a => SqlValues.Lower(a.Expected)).ToArray());
        PostgresMessageArrays.AddMessageArrays(parameters, batch.Select(a => a.Message));
    }

    protected override async Task<bool[]> ReadAsync(
        NpgsqlDataReader reader, IReadOnlyList<Answer> batch, CancellationToken cancellationToken)
    {
        var stored = new HashSet<Guid>();
        while (await reader.ReadAsync(cancellationToken))
        {
            stored.Add(reader.GetGuid(0));
        }

        return batch.Select(a => stored.Contains(a.Request.Id.Value)).ToArray();
    }

    internal sealed record Answer(RelayRequest Request, RelayRequestStatus Expected, Message Message);
}
