using AutoMapper;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>The key itself appears only in this answer; afterwards only its prefix is shown.</summary>
public sealed record CreatedApiKeyDto(Guid Id, string Name, string Prefix, string Key, DateTimeOffset CreatedAt);

public sealed record CreateApiKey(string? Name) : IRequest<CreatedApiKeyDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.ApiKeyCreation];
}

public sealed class CreateApiKeyValidator : AbstractValidator<CreateApiKey>
{
    public CreateApiKeyValidator() =>
        RuleFor(x => x.Name).NotEmpty().MaximumLength(ApiKey.MaxNameLength).OverridePropertyName("name")
            .WithMessage($"A key name is 1–{ApiKey.MaxNameLength} characters.");
}

public sealed class CreateApiKeyHandler(UserAccess access, IApiKeyRepository keys, IClock clock)
    : IRequestHandler<CreateApiKey, CreatedApiKeyDto>
{
    public async Task<CreatedApiKeyDto> Handle(CreateApiKey request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var (key, prefix) = ApiKeyFormat.Generate();
        var apiKey = ApiKey.Issue(user, request.Name, prefix, ApiKeyFormat.Hash(key), clock.UtcNow);
        await keys.AddAsync(apiKey, cancellationToken);
        return new CreatedApiKeyDto(apiKey.Id.Value, apiKey.Name, prefix, key, apiKey.CreatedAt);
    }
}

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

/// <summary>The user a presented API key belongs to, and the key's id.</summary>
public sealed record AuthenticatedApiKey(UserDto User, Guid KeyId);

/// <summary>Resolves a presented key to its user; null when the key is unknown, revoked or wrong.</summary>
public sealed record AuthenticateApiKey(string Key) : IRequest<AuthenticatedApiKey?>;

public sealed class AuthenticateApiKeyHandler(IApiKeyRepository keys, IUserRepository users, IClock clock, IMapper mapper)
    : IRequestHandler<AuthenticateApiKey, AuthenticatedApiKey?>
{
    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<AuthenticatedApiKey?> Handle(AuthenticateApiKey request, CancellationToken cancellationToken)
    {
        var prefix = ApiKeyFormat.PrefixOf(request.Key);
        if (prefix is null)
        {
            return null;
        }

        var key = await keys.GetByPrefixAsync(prefix, cancellationToken);
        if (key is null || key.IsRevoked || !ApiKeyFormat.Matches(request.Key, key.SecretHash))
        {
            return null;
        }

        var user = await users.GetAsync(key.OwnerId, cancellationToken);
        if (user is null)
        {
            return null;
        }

        // Writing on every request would make each call a write; a minute's precision is enough to tell keys in use.
        // The write touches only the last use: the key as read here may have been revoked since, and writing it back
        // whole would undo that.
        var now = clock.UtcNow;
        if (key.LastUsedAt is null || now - key.LastUsedAt > LastUsedResolution)
        {
            await keys.MarkUsedAsync(key.Id, now, cancellationToken);
        }

        return new AuthenticatedApiKey(mapper.Map<UserDto>(user), key.Id.Value);
    }
}
