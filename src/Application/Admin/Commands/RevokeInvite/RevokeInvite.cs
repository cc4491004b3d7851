using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Withdraws an unused invite: its link registers nobody from now on.</summary>
public sealed record RevokeInvite(AdminActor Actor, Guid Id) : AdminCommand<bool>(Actor)
{
    public override string AuditName => "invite revoke";

    public override string? AuditArguments => $"id={Id:D}";
}

public sealed class RevokeInviteHandler(IInviteRepository invites, IClock clock) : IRequestHandler<RevokeInvite, bool>
{
    /// <returns>False when it was used or revoked already.</returns>
    public async Task<bool> Handle(RevokeInvite request, CancellationToken cancellationToken)
    {
        var invite = await invites.GetAsync(new InviteId(request.Id), cancellationToken);
        if (invite is null || invite.GrantsAdmin)
        {
            throw NotFoundException.Invite();
        }

        var changed = invite.Revoke(clock.UtcNow);
        if (changed)
        {
            await invites.UpdateAsync(invite, cancellationToken);
        }

        return changed;
    }
}
