using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>The key itself appears only in this answer; afterwards only its prefix is shown.</summary>
public sealed record CreatedApiKeyDto(Guid Id, string Name, string Prefix, string Key, DateTimeOffset CreatedAt);

public sealed record CreateApiKey(string? Name) : IRequest<CreatedApiKeyDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.ApiKeyCreation];
}

public sealed class CreateApiKeyHandler(UserAccess access, IApiKeyRepository keys, IClock clock)
    : IRequestHandler<CreateApiKey, CreatedApiKeyDto>
{
    public async Task<CreatedApiKeyDto> Handle(CreateApiKey request, CancellationToken cancellationToken)
    {
        var user = await access.RequirePasswordSignInAsync("create API keys", cancellationToken);
        var (key, prefix) = ApiKeyFormat.Generate();
        var apiKey = ApiKey.Issue(user, request.Name, prefix, ApiKeyFormat.Hash(key), clock.UtcNow);
        await keys.AddAsync(apiKey, cancellationToken);
        return new CreatedApiKeyDto(apiKey.Id.Value, apiKey.Name, prefix, key, apiKey.CreatedAt);
    }
}
