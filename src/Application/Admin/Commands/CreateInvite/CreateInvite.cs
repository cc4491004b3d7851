using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Makes an invite link's code: one account may register with it, until it expires.</summary>
public sealed record CreateInvite(AdminActor Actor, int? ExpiresInHours) : AdminCommand<CreatedInviteDto>(Actor)
{
    public const int DefaultHours = 72;

    /// <summary>Each invite is a stored row: limited per admin like the other edits of one's own records.</summary>
    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;

    public override string AuditName => "invite";

    // Never the code: the audit log is read by every admin.
    public override string? AuditArguments => $"hours={ExpiresInHours ?? DefaultHours}";
}

/// <summary>A new invite with its code, shown this once (only its hash is stored).</summary>
public sealed record CreatedInviteDto(Guid Id, string Code, DateTimeOffset ExpiresAt);

public sealed class CreateInviteHandler(IInviteRepository invites, IClock clock) : IRequestHandler<CreateInvite, CreatedInviteDto>
{
    public async Task<CreatedInviteDto> Handle(CreateInvite request, CancellationToken cancellationToken)
    {
        var code = RegistrationCodes.New();
        var invite = Invite.Create(RegistrationCodes.Hash(code), request.Actor.ToString(), clock.UtcNow,
            TimeSpan.FromHours(request.ExpiresInHours ?? CreateInvite.DefaultHours));
        await invites.AddAsync(invite, cancellationToken);
        return new CreatedInviteDto(invite.Id.Value, code, invite.ExpiresAt);
    }
}

public sealed class CreateInviteValidator : AbstractValidator<CreateInvite>
{
    public CreateInviteValidator() =>
        RuleFor(c => c.ExpiresInHours).InclusiveBetween(1, (int)Invite.MaxLifetime.TotalHours)
            .OverridePropertyName("expiresInHours")
            .WithMessage($"An invite lasts from 1 to {(int)Invite.MaxLifetime.TotalHours} hours.");
}
