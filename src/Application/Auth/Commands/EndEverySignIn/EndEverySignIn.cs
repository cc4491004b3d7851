using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>
/// Signs the caller out everywhere: every sign-in of the user (each browser's cookie and every access token, the
/// caller's own included) ends, in every process, as a password change ends them. API keys and linked chat network
/// accounts are other credentials and stay (revoked and unlinked on their own).
/// </summary>
public sealed record EndEverySignIn : IRequest<MediatR.Unit>;

public sealed class EndEverySignInHandler(ICurrentUser currentUser, StoredAccounts accounts)
    : IRequestHandler<EndEverySignIn, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(EndEverySignIn request, CancellationToken cancellationToken)
    {
        // A banned user may still end their sign-ins: no EnsureCanAct here (as for signing out).
        var id = currentUser.Id ?? throw new UnauthenticatedException("Sign in first.");
        await accounts.ChangeAsync(id, (user, _) =>
        {
            user.EndAllSessions();
            return Task.CompletedTask;
        }, cancellationToken);
        return MediatR.Unit.Value;
    }
}
