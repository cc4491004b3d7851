
namespace MeatLizard.Application.Admin;

/// <summary>An admin command: audited (one row per call, whatever the outcome) and refused to non-admins.</summary>
public interface IAdminCommand : IAuditedRequest
{
    AdminActor Actor { get; }

    /// <summary>The command's name in the audit log (the slash command without its slash).</summary>
    string AuditName { get; }

    /// <summary>The arguments as the audit log shows them, e.g. <c>scope=user perMinute=20</c>; null when none.</summary>
    string? AuditArguments { get; }
}
