using MeatLizard.Application.Abstractions;
using NpgsqlTypes;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>One row per answered request; a batch goes in as one INSERT over arrays (one round trip).</summary>
internal sealed class PostgresMetricsRecorder(PostgresSession session) : IMetricsRecorder, IMetricsBatchWriter
{
    public Task RecordAsync(RequestMetric metric, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metric);
        return WriteAsync([metric], cancellationToken);
    }

    public async Task WriteAsync(IReadOnlyList<RequestMetric> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return;
        }

        await using var command = await session.CreateCommandAsync("""
            INSERT INTO metrics (request_id, session_id, recorded_at, queue_ms, relay_ms, inference_ms, prompt_tokens,
                                 completion_tokens, fallback, outcome, prompt_ms, generation_ms, model, worker_id,
                                 first_token_ms)
            SELECT * FROM unnest(@RequestIds, @SessionIds, @RecordedAt, @QueueMs, @RelayMs, @InferenceMs,
                                 @PromptTokens, @CompletionTokens, @Fallback, @Outcomes, @PromptMs, @GenerationMs,
                                 @Models, @WorkerIds, @FirstTokenMs)
            """, cancellationToken);
        var parameters = command.Parameters;
        parameters.AddWithValue("RequestIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid, batch.Select(m => m.RequestId).ToArray());
        parameters.AddWithValue("SessionIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid, batch.Select(m => m.ChatId).ToArray());
        parameters.AddWithValue("RecordedAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            batch.Select(m => m.RecordedAt.UtcDateTime).ToArray());
        parameters.AddWithValue("QueueMs", NpgsqlDbType.Array | NpgsqlDbType.Integer, batch.Select(m => m.QueueMs).ToArray());
        parameters.AddWithValue("RelayMs", NpgsqlDbType.Array | NpgsqlDbType.Integer, batch.Select(m => m.RelayMs).ToArray());
        parameters.AddWithValue("InferenceMs", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            batch.Select(m => m.InferenceMs).ToArray());
        parameters.AddWithValue("PromptTokens", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            batch.Select(m => m.PromptTokens).ToArray());
        parameters.AddWithValue("CompletionTokens", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            batch.Select(m => m.CompletionTokens).ToArray());
        parameters.AddWithValue("Fallback", NpgsqlDbType.Array | NpgsqlDbType.Boolean, batch.Select(m => m.Fallback).ToArray());
        parameters.AddWithValue("Outcomes", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(m => m.Outcome).ToArray());
        parameters.AddWithValue("PromptMs", NpgsqlDbType.Array | NpgsqlDbType.Double, batch.Select(m => m.PromptMs).ToArray());
        parameters.AddWithValue("GenerationMs", NpgsqlDbType.Array | NpgsqlDbType.Double,
            batch.Select(m => m.GenerationMs).ToArray());
        parameters.AddWithValue("Models", NpgsqlDbType.Array | NpgsqlDbType.Text, batch.Select(m => m.Model).ToArray());
        parameters.AddWithValue("WorkerIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid, batch.Select(m => m.WorkerId).ToArray());
        parameters.AddWithValue("FirstTokenMs", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            batch.Select(m => m.FirstTokenMs).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
