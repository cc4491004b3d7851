namespace MeatLizard.Application.Admin;

/// <summary>
/// An action on a chat that its owner takes, and that an admin may take on anyone's chat (<see cref="Admin"/> set).
/// One request, one handler, one rule for who may (<see cref="Common.UserAccess.RequireChatAsync"/>): no admin twin. Made
/// by an admin, it is refused to non-admins and audited like any <see cref="IAdminCommand"/>
/// (<see cref="AdminAuditBehaviour{TRequest,TResponse}"/>).
/// </summary>
public interface IOwnerOrAdminAction : IAuditedRequest
{
    /// <summary>The admin acting on a chat that need not be theirs; null when the signed-in owner acts.</summary>
    AdminActor? Admin { get; }

    /// <summary>The action's name in the audit log (the slash command without its slash).</summary>
    string AuditName { get; }

    /// <summary>The arguments as the audit log shows them; null when none.</summary>
    string? AuditArguments { get; }
}
