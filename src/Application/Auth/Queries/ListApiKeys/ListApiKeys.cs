using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Auth.Queries;

public sealed record ListApiKeys : IRequest<IReadOnlyList<ApiKeyDto>>;

public sealed class ListApiKeysHandler(UserAccess access, IChatReadModel reads)
    : IRequestHandler<ListApiKeys, IReadOnlyList<ApiKeyDto>>
{
    public async Task<IReadOnlyList<ApiKeyDto>> Handle(ListApiKeys request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await reads.ListApiKeysAsync(user.Id, cancellationToken);
    }
}
