using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

internal sealed class SqliteMetricsRecorder(SqliteSession session) : IMetricsRecorder, IMetricsBatchWriter
{
    /// <summary>The batch in one transaction: one write turn and one commit instead of one per row.</summary>
    public Task WriteAsync(IReadOnlyList<RequestMetric> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return session.InTransactionAsync(async ct =>
        {
            foreach (var metric in batch)
            {
                await RecordAsync(metric, ct);
            }

            return true;
        }, cancellationToken);
    }

    public Task RecordAsync(RequestMetric metric, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metric);
        return session.ExecuteAsync("""
            INSERT INTO metrics (request_id, session_id, recorded_at, queue_ms, relay_ms, inference_ms, prompt_tokens,
                                 completion_tokens, fallback, outcome, prompt_ms, generation_ms, model, worker_id,
                                 first_token_ms)
            VALUES (@RequestId, @SessionId, @RecordedAt, @QueueMs, @RelayMs, @InferenceMs, @PromptTokens,
                    @CompletionTokens, @Fallback, @Outcome, @PromptMs, @GenerationMs, @Model, @WorkerId, @FirstTokenMs)
            """, new
        {
            RequestId = SqlValues.Text(metric.RequestId),
            SessionId = SqlValues.Text(metric.ChatId),
            RecordedAt = SqlValues.Millis(metric.RecordedAt),
            metric.QueueMs,
            metric.RelayMs,
            metric.InferenceMs,
            metric.PromptTokens,
            metric.CompletionTokens,
            Fallback = metric.Fallback ? 1 : 0,
            metric.Outcome,
            metric.PromptMs,
            metric.GenerationMs,
            metric.Model,
            WorkerId = SqlValues.Text(metric.WorkerId),
            metric.FirstTokenMs,
        }, cancellationToken);
    }
}
