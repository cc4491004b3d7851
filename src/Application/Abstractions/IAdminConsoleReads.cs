namespace MeatLizard.Application.Abstractions;

/// <summary>One row of the audit log as the console pages it: its id is the cursor of the next page.</summary>
/// <param name="Outcome">succeeded, refused, invalid or failed.</param>
public sealed record AuditRowDto(
    long Id, DateTimeOffset At, string Actor, string Command, string? Arguments, string Outcome, string? Detail);

/// <summary>
/// Which audit rows to read: older than <paramref name="Before"/> (an id; null: from the newest), whose actor contains
/// <paramref name="Actor"/> (any case), of one <paramref name="Command"/>; at most <paramref name="Limit"/>.
/// </summary>
public sealed record AuditFilter(long? Before, int Limit, string? Actor = null, string? Command = null);

/// <summary>
/// One request's stored figures (table <c>metrics</c>), as the dashboard's series are made of. <see cref="Source"/>
/// says what answered: <c>model</c>, <c>fallback</c>, <c>notice</c> or <c>cancelled</c>. <see cref="FirstTokenMs"/> is
/// the measured time to first token (null where no piece with text arrived, or the request was recorded before it was
/// measured).
/// </summary>
public sealed record MetricSample(
    DateTimeOffset RecordedAt, int QueueMs, int RelayMs, int? InferenceMs, double? PromptMs, double? GenerationMs,
    int CompletionTokens, string Source, Guid? WorkerId, int? FirstTokenMs = null)
{
    /// <summary>From the message being queued to its answer, as the summary's latency is measured.</summary>
    public int LatencyMs => QueueMs + RelayMs + (InferenceMs ?? 0);

    /// <summary>
    /// The time to first token: as measured, else (a request recorded before it was measured) as the stored figures
    /// tell it: the queue wait, the relay time and the engine's prompt time where it reported it.
    /// </summary>
    public int TimeToFirstTokenMs => FirstTokenMs ?? QueueMs + RelayMs + (int)(PromptMs ?? 0);

    /// <summary>When the request was queued.</summary>
    public DateTimeOffset QueuedAt => RecordedAt - TimeSpan.FromMilliseconds(LatencyMs);
}

/// <summary>The admin console's reads that the Discord commands do not make, straight from SQL.</summary>
public interface IAdminConsoleReads
{
    /// <summary>The audit rows <paramref name="filter"/> picks, newest first.</summary>
    Task<IReadOnlyList<AuditRowDto>> ListAuditAsync(AuditFilter filter, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> requests recorded in [<paramref name="from"/>, <paramref name="to"/>), oldest first.</summary>
    Task<IReadOnlyList<MetricSample>> ListMetricSamplesAsync(
        DateTimeOffset from, DateTimeOffset to, int max, CancellationToken cancellationToken);

    /// <summary>
    /// Each user's usage per kind over the days in [<paramref name="from"/>, <paramref name="to"/>) (UTC midnights), of
    /// <paramref name="userId"/> only when given (table <c>user_usage</c>).
    /// </summary>
    Task<IReadOnlyList<UserUsageRow>> ListUsageAsync(DateTimeOffset from, DateTimeOffset to, Guid? userId,
        CancellationToken cancellationToken);
}
