using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Auth.Commands;

public sealed record RevokeApiKey(Guid Id) : IRequest<MediatR.Unit>;

public sealed class RevokeApiKeyHandler(UserAccess access, IApiKeyRepository keys, IClock clock)
    : IRequestHandler<RevokeApiKey, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(RevokeApiKey request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var key = await keys.GetAsync(new ApiKeyId(request.Id), cancellationToken);
        if (key is null || key.OwnerId != user.Id || key.IsRevoked)
        {
            throw NotFoundException.ApiKey();
        }

        key.Revoke(clock.UtcNow);
        await keys.UpdateAsync(key, cancellationToken);
        return MediatR.Unit.Value;
    }
}
