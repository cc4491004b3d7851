
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
