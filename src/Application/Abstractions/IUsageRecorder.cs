namespace MeatLizard.Application.Abstractions;

/// <summary>The kinds of model work counted per user (table <c>user_usage</c>).</summary>
public static class UsageKinds
{
    /// <summary>An answer a model wrote: the tokens it read (the prompt) and wrote.</summary>
    public const string Chat = "chat";

    /// <summary>A <c>/v1/embeddings</c> call answered: the texts embedded and the tokens the hosts read.</summary>
    public const string Embeddings = "embeddings";
}

/// <summary>
/// One call's model work, counted for <paramref name="UserId"/> on the UTC day of <paramref name="At"/>:
/// <paramref name="Inputs"/> (texts embedded; 0 for chat), and the tokens read and written.
/// </summary>
public sealed record UsageFigure(
    Guid UserId, DateTimeOffset At, string Kind, int Inputs, int PromptTokens, int CompletionTokens)
{
    /// <summary>The UTC midnight that starts the day the figure is counted on.</summary>
    public DateTimeOffset Day => new(At.UtcDateTime.Date, TimeSpan.Zero);
}

/// <summary>
/// Counts model work per user, day and kind, so admins see who uses what (<c>GET /api/v1/admin/usage</c>). A figure is
/// statistics, never chat data: recording one never fails the call it counts (hosts write them in batches, off the
/// call's path), and one for a user deleted meanwhile is dropped.
/// </summary>
public interface IUsageRecorder
{
    Task RecordAsync(UsageFigure figure, CancellationToken cancellationToken);
}

/// <summary>Writes counted figures, added to what each user's day and kind holds already.</summary>
public interface IUsageBatchWriter
{
    Task WriteAsync(IReadOnlyList<UsageFigure> batch, CancellationToken cancellationToken);
}

/// <summary>One user's usage of one kind over a period, summed over its days.</summary>
public sealed record UserUsageRow(
    Guid UserId, string Username, string Kind, long Requests, long Inputs, long PromptTokens, long CompletionTokens);
