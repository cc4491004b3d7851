using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>
/// While the platform has no admin: a one-time token for the setup link that registers the first one (valid
/// <see cref="Invite.SetupLifetime"/>, stored hashed). Asked by the API host at start and by its <c>admin setup-link</c>
/// verb, which show it to the operator only; null once an admin exists.
/// </summary>
public sealed record CreateSetupLink : IRequest<SetupTokenDto?>;

public sealed record SetupTokenDto(string Token, DateTimeOffset ExpiresAt);

public sealed class CreateSetupLinkHandler(IUserRepository users, IInviteRepository invites, IClock clock)
    : IRequestHandler<CreateSetupLink, SetupTokenDto?>
{
    public async Task<SetupTokenDto?> Handle(CreateSetupLink request, CancellationToken cancellationToken)
    {
        if (await users.CountAdminsAsync(cancellationToken) > 0)
        {
            return null;
        }

        var token = RegistrationCodes.New();
        var pass = Invite.ForSetup(RegistrationCodes.Hash(token), clock.UtcNow);
        await invites.AddAsync(pass, cancellationToken);
        return new SetupTokenDto(token, pass.ExpiresAt);
    }
}
