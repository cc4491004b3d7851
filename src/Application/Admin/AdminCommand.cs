using MediatR;

namespace MeatLizard.Application.Admin;

/// <summary>
/// Who runs an admin command, as the host identified them (e.g. <c>discord:1234</c> and the member's name), and whether
/// the host found them an admin (ADMINISTRATOR or the configured admin role). Non-admins' commands still reach the
/// pipeline, so their refusal is audited like everything else.
/// </summary>
public sealed record AdminActor(string Id, string Name, bool IsAdmin)
{
    public override string ToString() => $"{Id} ({Name})";
}

public abstract record AdminCommand<TResult>(AdminActor Actor) : IRequest<TResult>, IAdminCommand
{
    public abstract string AuditName { get; }

    public virtual string? AuditArguments => null;
}

/// <summary>The caller is not an admin; nothing was done.</summary>
public sealed class AdminOnlyException() : Exception(Message)
{
    public new const string Message = "This command is for MeatLizard admins.";
}
