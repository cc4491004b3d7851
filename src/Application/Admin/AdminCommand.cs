using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Behaviours;

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

/// <summary>
/// An admin command. Every one, a read included, takes a token of the admin's <see cref="RateLimitScope.Admin"/> bucket
/// (a web admin's; a Discord member or the command line has none), so a script cannot hammer the console.
/// </summary>
public abstract record AdminCommand<TResult>(AdminActor Actor) : IRequest<TResult>, IAdminCommand, IRateLimitedRequest
{
    /// <summary>What a change of stored records costs: the admin bucket's token and one of the admin's edits.</summary>
    protected static IReadOnlyList<RateLimitScope> AdminChange { get; } = [RateLimitScope.Admin, RateLimitScope.Edit];

    public abstract string AuditName { get; }

    public virtual string? AuditArguments => null;

    public virtual IReadOnlyList<RateLimitScope> LimitedBy { get; } = [RateLimitScope.Admin];
}

/// <summary>The caller is not an admin; nothing was done.</summary>
public sealed class AdminOnlyException() : Exception(Message)
{
    public new const string Message = "This command is for MeatLizard admins.";
}
