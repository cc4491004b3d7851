using MediatR;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Channels.Queries;

/// <summary>A Discord or Telegram account that acts as this web account: its network and its id there.</summary>
public sealed record LinkedAccountDto(string Network, string ExternalId);

/// <summary>The chat network accounts linked to the caller's web account.</summary>
public sealed record ListLinkedAccounts : IRequest<IReadOnlyList<LinkedAccountDto>>;

public sealed class ListLinkedAccountsHandler(UserAccess access, LinkedAccounts linked)
    : IRequestHandler<ListLinkedAccounts, IReadOnlyList<LinkedAccountDto>>
{
    public async Task<IReadOnlyList<LinkedAccountDto>> Handle(ListLinkedAccounts request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await linked.ListAsync(user.Id, cancellationToken);
    }
}
