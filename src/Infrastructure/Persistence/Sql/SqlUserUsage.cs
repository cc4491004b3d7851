using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// Model work per user, UTC day and kind (table <c>user_usage</c>), added to the day's row — one SQL for both databases.
/// A batch is summed per row first and written in one transaction; a figure for a user no longer there (deleted while
/// the figure waited) is dropped, so a deleted account leaves no usage behind. Nor one being deleted: on PostgreSQL the
/// figure holds the user's row (<c>FOR KEY SHARE</c>), so it waits for an account deletion that took the row first and
/// then finds no user, and one that comes after it waits for the figure and deletes the usage after the user
/// (<see cref="AccountErasure"/>). (Without it, a figure read the user before a deletion committed and wrote its row
/// after the deletion had deleted the usage: a row naming the deleted user, seen under load in CI.) SQLite has one
/// writer at a time: the figure is wholly before or after the deletion.
/// </summary>
internal sealed class SqlUserUsage(IDatabaseSession session, IUnitOfWork unitOfWork, SqlDialect dialect)
    : IUsageRecorder, IUsageBatchWriter
{
    private readonly string _addSql = AddSql(dialect);

    // The SELECT has its WHERE (SQLite needs one before an upsert's ON CONFLICT); excluded.* is the row offered.
    private static string AddSql(SqlDialect dialect) => $"""
        INSERT INTO user_usage (user_id, day, kind, requests, inputs, prompt_tokens, completion_tokens)
        SELECT u.id, @Day, @Kind, @Requests, @Inputs, @PromptTokens, @CompletionTokens
        FROM users u WHERE u.id = @UserId{(dialect == SqlDialect.Postgres ? " FOR KEY SHARE OF u" : "")}
        ON CONFLICT (user_id, day, kind) DO UPDATE SET
            requests = user_usage.requests + excluded.requests,
            inputs = user_usage.inputs + excluded.inputs,
            prompt_tokens = user_usage.prompt_tokens + excluded.prompt_tokens,
            completion_tokens = user_usage.completion_tokens + excluded.completion_tokens
        """;

    public Task RecordAsync(UsageFigure figure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(figure);
        return WriteAsync([figure], cancellationToken);
    }

    public Task WriteAsync(IReadOnlyList<UsageFigure> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var rows = batch.GroupBy(f => (f.UserId, f.Day, f.Kind)).Select(g => new
        {
            g.Key.UserId,
            g.Key.Day,
            g.Key.Kind,
            Requests = (long)g.Count(),
            Inputs = g.Sum(f => (long)f.Inputs),
            PromptTokens = g.Sum(f => (long)f.PromptTokens),
            CompletionTokens = g.Sum(f => (long)f.CompletionTokens),
        }).ToList();
        if (rows.Count == 0)
        {
            return Task.CompletedTask;
        }

        return unitOfWork.InTransactionAsync(async ct =>
        {
            foreach (var row in rows)
            {
                await session.ExecuteAsync(_addSql, row, ct);
            }

            return true;
        }, cancellationToken);
    }
}
