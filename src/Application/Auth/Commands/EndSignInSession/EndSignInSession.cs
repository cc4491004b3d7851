using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>
/// Ends the sign-in session the caller is using (its cookie and the access token issued with it), in every process;
/// the user's other sessions stay. <paramref name="CredentialsValidUntil"/> is when they would have expired anyway.
/// </summary>
public sealed record EndSignInSession(string SessionId, DateTimeOffset CredentialsValidUntil) : IRequest<MediatR.Unit>;

public sealed class EndSignInSessionHandler(ICurrentUser currentUser, IUserRepository users, IClock clock)
    : IRequestHandler<EndSignInSession, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(EndSignInSession request, CancellationToken cancellationToken)
    {
        // A banned user may still sign out: no EnsureCanAct here.
        var id = currentUser.Id ?? throw new UnauthenticatedException("Sign in first.");
        await users.EndSessionAsync(id, request.SessionId, request.CredentialsValidUntil, clock.UtcNow, cancellationToken);
        return MediatR.Unit.Value;
    }
}
