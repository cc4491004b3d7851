using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>How an admin command ended, as the audit log records it.</summary>
public enum AuditOutcome
{
    /// <summary>The command did what it was asked.</summary>
    Succeeded,

    /// <summary>The caller may not run it (not an admin), or the platform's rules refused it.</summary>
    Refused,

    /// <summary>An argument was not acceptable; nothing was done.</summary>
    Invalid,

    /// <summary>It broke on the way (a store or a server was unavailable).</summary>
    Failed,
}

/// <summary>
/// One admin action: who (e.g. <c>discord:1234 (alice)</c>), which command with which arguments, how it ended and a
/// short detail (the refusal or error message; never secrets, prompts or replies).
/// </summary>
public sealed record AuditEntry(
    DateTimeOffset At, string Actor, string Command, string? Arguments, AuditOutcome Outcome, string? Detail);

/// <summary>The admins' audit trail (table <c>audit_log</c>); rows are only ever appended.</summary>
public interface IAuditLog
{
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="max"/> entries, newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> ListRecentAsync(int max, CancellationToken cancellationToken);
}

/// <summary>One admin-set value of table <c>settings</c>.</summary>
public sealed record SettingEntry(string Key, string Value, DateTimeOffset UpdatedAt, string? UpdatedBy);

/// <summary>The admin-tunable settings as stored (table <c>settings</c>); what is not stored comes from configuration.</summary>
public interface ISettingsStore
{
    Task<IReadOnlyList<SettingEntry>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Inserts or replaces the value of <see cref="SettingEntry.Key"/>.</summary>
    Task SetAsync(SettingEntry entry, CancellationToken cancellationToken);

    /// <summary>False when the key was not set.</summary>
    Task<bool> RemoveAsync(string key, CancellationToken cancellationToken);
}

/// <summary>
/// The admin settings as the running process sees them: read often (every rate-limit check, every fallback), so kept
/// in a short cache that a write in this process clears at once (<see cref="Invalidate"/>); other processes see a
/// change when their cache expires.
/// </summary>
public interface IRuntimeSettings
{
    /// <summary>The stored value of <paramref name="key"/>, or null when the admins have not set it.</summary>
    ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken);

    void Invalidate();
}

/// <summary>A chat as an admin lists it: with its owner's name and how many messages it holds.</summary>
public sealed record AdminSessionDto(
    Guid Id, string Title, string Status, Guid OwnerId, string OwnerName, int Messages, DateTimeOffset UpdatedAt);

/// <summary>
/// The request figures of a period (table <c>metrics</c>). Latency is from the message being queued to its answer;
/// tokens per second is completion tokens over generation time as the engine measured it (llama.cpp's own timings),
/// or over the worker's inference time for answers whose worker did not report them; errors are failed requests.
/// </summary>
public sealed record MetricsSummary(
    DateTimeOffset From,
    DateTimeOffset To,
    int Requests,
    int? P50LatencyMs,
    int? P95LatencyMs,
    double? TokensPerSecond,
    int Fallbacks,
    int Errors)
{
    /// <summary>Share of requests the fallback answered (0–1); null when there were none.</summary>
    public double? FallbackRate => Requests == 0 ? null : (double)Fallbacks / Requests;
}

/// <summary>Reads for admin commands, straight from SQL.</summary>
public interface IAdminReadModel
{
    /// <summary>Up to <paramref name="max"/> chats (of one owner, or everyone's), most recently updated first.</summary>
    Task<IReadOnlyList<AdminSessionDto>> ListSessionsAsync(UserId? ownerId, int max, CancellationToken cancellationToken);

    /// <summary>The figures of requests recorded in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    Task<MetricsSummary> GetMetricsSummaryAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);
}
