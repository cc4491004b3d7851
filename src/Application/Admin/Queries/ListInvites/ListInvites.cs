using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The admins' invites, newest first (never their codes: only hashes are kept).</summary>
public sealed record ListInvites(AdminActor Actor) : AdminCommand<IReadOnlyList<InviteDto>>(Actor)
{
    public const int Max = 200;

    public override string AuditName => "invites";
}

/// <param name="State">unused, used, expired or revoked.</param>
public sealed record InviteDto(
    Guid Id, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string State, Guid? UsedBy);

public sealed class ListInvitesHandler(IInviteRepository invites, IClock clock)
    : IRequestHandler<ListInvites, IReadOnlyList<InviteDto>>
{
    public async Task<IReadOnlyList<InviteDto>> Handle(ListInvites request, CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        return [.. (await invites.ListAsync(ListInvites.Max, cancellationToken)).Select(i => new InviteDto(
            i.Id.Value, i.CreatedBy, i.CreatedAt, i.ExpiresAt, StateOf(i, now), i.UsedBy?.Value))];
    }

    private static string StateOf(Invite invite, DateTimeOffset now) => invite switch
    {
        { IsUsed: true } => "used",
        { IsRevoked: true } => "revoked",
        _ when now >= invite.ExpiresAt => "expired",
        _ => "unused",
    };
}
