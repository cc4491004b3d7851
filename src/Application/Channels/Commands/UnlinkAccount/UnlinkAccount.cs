using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Channels.Commands;

/// <summary>
/// Ends a link: the Discord or Telegram account no longer acts as the caller's web account (its next question there
/// starts a chat of its own user). The chats it had stay with the web account. Account management, so a password
/// sign-in only, as for link codes.
/// </summary>
public sealed record UnlinkAccount(string Network, string ExternalId) : IRequest<MediatR.Unit>;

public sealed class UnlinkAccountHandler(UserAccess access, LinkedAccounts linked, IUnitOfWork unitOfWork)
    : IRequestHandler<UnlinkAccount, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(UnlinkAccount request, CancellationToken cancellationToken)
    {
        var user = await access.RequirePasswordSignInAsync("unlink accounts", cancellationToken);
        var unlinked = await unitOfWork.InTransactionAsync(
            ct => linked.UnlinkAsync(user.Id, request.Network, request.ExternalId, ct), cancellationToken);
        return unlinked ? MediatR.Unit.Value : throw NotFoundException.LinkedAccount();
    }
}
