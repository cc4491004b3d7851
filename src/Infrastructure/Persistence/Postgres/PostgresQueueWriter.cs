using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Infrastructure.Persistence.Sql;
using Npgsql;
using NpgsqlTypes;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Queues the process's chat messages together (<see cref="PostgresGroupWriter{TWrite, TKey, TResult}"/>): each row
/// is still decided on its own chat exactly as in <see cref="PostgresRelayRequestRepository.TryQueueAsync"/> — the
/// chat at the version read, active, not answering; its title as the send left it — and one statement also means one wake-up (NOTIFY) for the
/// dispatchers, however many it queued.
/// </summary>
internal sealed class PostgresQueueWriter(NpgsqlDataSource dataSource)
    : PostgresGroupWriter<PostgresQueueWriter.Send, ChatId, string?>(dataSource)
{
    /// <summary>The chat's new version when queued; null when the chat refused it (nothing is stored then).</summary>
    public Task<string?> TryQueueAsync(PostgresSession session, Chat chat, string chatVersion, Message message,
        RelayRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(request);
        if (message.ChatId != chat.Id || request.ChatId != chat.Id)
        {
            throw new ArgumentException("The message and the request must belong to the chat they are queued in.",
                nameof(request));
        }

        return WriteAsync(session, new Send(chat, chatVersion, message, request), cancellationToken);
    }

    // One chat twice in one statement would be checked against the same version twice: the second waits for the next
    // statement, where the first one's new version refuses it.
    // The NOT EXISTS reads before a racing transaction commits (a regenerate at another instance, say): the database's
    // one-unfinished-request index then refuses the request row (ON CONFLICT DO NOTHING, so only that chat's send is
    // refused, not the statement), and the chat's message is stored only with its request.
    protected override ChatId KeyOf(Send write) => write.Chat.Id;

    protected override string Sql => $"""
            WITH v AS (
                SELECT *
                FROM unnest(@ChatVersions, @ChatUpdatedAt, @ChatTitles, {PostgresMessageArrays.MessageArrays},
                            {PostgresRelayRequestRepository.StateArrays}, @SessionIds, @UserIds, @UserMessageIds,
                            @Temperatures, @TopPs, @MaxTokens, @CreatedAts, @Generations, @TraceParents)
                     AS v (chat_version, chat_updated_at, chat_title, {PostgresMessageArrays.MessageArrayColumns},
                           {PostgresRelayRequestRepository.StateColumns}, session_id, user_id, user_message_id,
                           temperature, top_p, max_tokens, created_at, generation, trace_parent)),
            chat AS (
                UPDATE chat_sessions c SET updated_at = v.chat_updated_at, title = v.chat_title
                FROM v
                WHERE c.id = v.session_id AND c.xmin::text = v.chat_version AND c.status = 'active'
                  AND NOT EXISTS (SELECT 1 FROM relay_requests r
                                  WHERE r.session_id = v.session_id
                                    AND r.status IN ('pending', 'dispatched', 'streaming'))
                RETURNING c.id, c.xmin::text AS version),
            request AS (
                {PostgresRelayRequestRepository.InsertRequest}
                SELECT v.id, v.session_id, v.user_id, v.user_message_id, v.temperature, v.top_p, v.max_tokens,
                       v.status, v.attempts, v.last_seq, v.created_at, v.dispatched_at, v.acked_at, v.ack_deadline,
                       v.completion_deadline, v.finished_at, v.answer_message_id, v.timeout_reason, v.error, v.generation,
                       v.worker_id, v.routed_model, v.trace_parent, v.sent_to_run
                FROM v JOIN chat ON chat.id = v.session_id
                ON CONFLICT DO NOTHING
                RETURNING session_id),
            message AS (
                INSERT INTO messages ({SqlMessageRepository.InsertColumns})
                SELECT {PostgresMessageArrays.MessageValuesFromV}
                FROM v JOIN request ON request.session_id = v.session_id)
            SELECT chat.id, chat.version FROM chat JOIN request ON request.session_id = chat.id
            """;

    protected override void Bind(NpgsqlParameterCollection parameters, IReadOnlyList<Send> batch)
    {
        parameters.AddWithValue("ChatVersions", NpgsqlDbType.Array | NpgsqlDbType.Text,
            batch.Select(s => s.ChatVersion).ToArray());
        parameters.AddWithValue("ChatUpdatedAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            batch.Select(s => PgValues.Instant(s.Chat.UpdatedAt)).ToArray());
        parameters.AddWithValue("ChatTitles", NpgsqlDbType.Array | NpgsqlDbType.Text,
            batch.Select(s => s.Chat.Title.Value).ToArray());
        PostgresMessageArrays.AddMessageArrays(parameters, batch.Select(s => s.Message));
        var requests = batch.Select(s => s.Request).ToList();
        PostgresRelayRequestRepository.AddStateArrays(parameters, requests);
        parameters.AddWithValue("SessionIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid,
            requests.Select(r => r.ChatId.Value).ToArray());
        parameters.AddWithValue("UserIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid, requests.Select(r => r.UserId.Value).ToArray());
        parameters.AddWithValue("UserMessageIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid,
            requests.Select(r => r.UserMessageId.Value).ToArray());
        parameters.AddWithValue("Temperatures", NpgsqlDbType.Array | NpgsqlDbType.Double,
            requests.Select(r => r.Sampling.Temperature).ToArray());
        parameters.AddWithValue("TopPs", NpgsqlDbType.Array | NpgsqlDbType.Double, requests.Select(r => r.Sampling.TopP).ToArray());
        parameters.AddWithValue("MaxTokens", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            requests.Select(r => r.Sampling.MaxTokens).ToArray());
        parameters.AddWithValue("CreatedAts", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            requests.Select(r => PgValues.Instant(r.CreatedAt)).ToArray());
        parameters.AddWithValue("Generations", NpgsqlDbType.Array | NpgsqlDbType.Text,
            requests.Select(r => GenerationOptionsJson.Write(r.Options)).ToArray());
        parameters.AddWithValue("TraceParents", NpgsqlDbType.Array | NpgsqlDbType.Text,
            requests.Select(r => r.TraceParent).ToArray());
    }

    protected override async Task<string?[]> ReadAsync(
        NpgsqlDataReader reader, IReadOnlyList<Send> batch, CancellationToken cancellationToken)
    {
        var versions = new Dictionary<Guid, string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            versions[reader.GetGuid(0)] = reader.GetString(1);
        }

        return batch.Select(s => versions.GetValueOrDefault(s.Chat.Id.Value)).ToArray();
    }

    internal sealed record Send(Chat Chat, string ChatVersion, Message Message, RelayRequest Request);
}
