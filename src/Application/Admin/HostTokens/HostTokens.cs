using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Common.Exceptions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Application.Admin.HostTokens;

/// <summary>Makes the token a model host presents to the direct relay; shown this once (only its hash is kept).</summary>
public sealed record CreateHostToken(AdminActor Actor, string? Name) : AdminCommand<CreatedHostTokenDto>(Actor)
{
    /// <summary>What a host token starts with, so a leaked one is recognised for what it is.</summary>
    public const string Prefix = "mlh_";

    public override string AuditName => "host token";

    // Never the token: the audit log is read by every admin.
    public override string? AuditArguments => $"name={Name}";
}

/// <summary>A new host token, shown this once.</summary>
public sealed record CreatedHostTokenDto(Guid Id, string Name, string Token, DateTimeOffset CreatedAt);

/// <summary>Revokes host <paramref name="Name"/>'s token: it is refused from now on, and its connections end.</summary>
public sealed record RevokeHostToken(AdminActor Actor, string Name) : AdminCommand<bool>(Actor)
{
    public override string AuditName => "host token revoke";

    public override string? AuditArguments => $"name={Name}";
}

/// <summary>Every host token (never the token itself), newest first, with whether its host is connected here.</summary>
public sealed record ListHostTokens(AdminActor Actor) : AdminCommand<IReadOnlyList<HostTokenDto>>(Actor)
{
    public override string AuditName => "host tokens";
}

/// <param name="Connected">The host holds a connection to this API instance now.</param>
/// <param name="LastUsedAt">When the token last let its host in (a connection began); null if never.</param>
public sealed record HostTokenDto(
    Guid Id, string Name, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, bool Connected,
    DateTimeOffset? LastUsedAt);

public sealed class CreateHostTokenHandler(IRelayHostTokens tokens, IClock clock)
    : IRequestHandler<CreateHostToken, CreatedHostTokenDto>
{
    public async Task<CreatedHostTokenDto> Handle(CreateHostToken request, CancellationToken cancellationToken)
    {
        var name = request.Name!.Trim();
        if (await tokens.FindLiveAsync(name, cancellationToken) is not null)
        {
            throw new ConflictException($"Host {name} has a token already; revoke it first to make a new one.", "name");
        }

        var token = CreateHostToken.Prefix + RegistrationCodes.New();
        var stored = new RelayHostToken(Guid.NewGuid(), name, RegistrationCodes.Hash(token), request.Actor.ToString(),
            clock.UtcNow, null);
        await tokens.AddAsync(stored, cancellationToken);
        return new CreatedHostTokenDto(stored.Id, name, token, stored.CreatedAt);
    }
}

public sealed class CreateHostTokenValidator : AbstractValidator<CreateHostToken>
{
    public const int MaxNameLength = 64;

    public CreateHostTokenValidator() =>
        RuleFor(c => c.Name).NotEmpty().MaximumLength(MaxNameLength).Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$")
            .OverridePropertyName("name")
            .WithMessage($"A host's name is 1 to {MaxNameLength} letters, digits, dots, dashes or underscores.");
}

public sealed class RevokeHostTokenHandler(IRelayHostTokens tokens, IRelayHostLinks links, IClock clock)
    : IRequestHandler<RevokeHostToken, bool>
{
    public async Task<bool> Handle(RevokeHostToken request, CancellationToken cancellationToken)
    {
        var name = request.Name.Trim();
        if (!await tokens.RevokeAsync(name, clock.UtcNow, cancellationToken))
        {
            throw NotFoundException.HostToken(name);
        }

        links.Disconnect(name);
        return true;
    }
}

public sealed class ListHostTokensHandler(HostTokenRoster roster)
    : IRequestHandler<ListHostTokens, IReadOnlyList<HostTokenDto>>
{
    public Task<IReadOnlyList<HostTokenDto>> Handle(ListHostTokens request, CancellationToken cancellationToken) =>
        roster.ListAsync(cancellationToken);
}

/// <summary>
/// Reads the host tokens as admins see them, with whether each host is connected here: for the tokens list
/// (<see cref="ListHostTokens"/>) and in the admins' status (<see cref="Queries.GetAdminStatus"/>).
/// </summary>
public sealed class HostTokenRoster(IRelayHostTokens tokens, IRelayHostLinks links)
{
    public async Task<IReadOnlyList<HostTokenDto>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await tokens.ListAsync(cancellationToken)).Select(t => new HostTokenDto(
            t.Id, t.Name, t.CreatedBy, t.CreatedAt, t.RevokedAt, !t.IsRevoked && links.IsConnected(t.Name),
            t.LastUsedAt))];
}

/// <summary>The direct relay's host tokens, made, listed and revoked by admins.</summary>
internal static class HostTokenAdministration
{
    public static IServiceCollection AddHostTokens(this IServiceCollection services)
    {
        services
            .AddRequestHandler<CreateHostTokenHandler>()
            .AddRequestHandler<RevokeHostTokenHandler>()
            .AddRequestHandler<ListHostTokensHandler>()
            .AddValidator<CreateHostToken, CreateHostTokenValidator>();
        services.AddScoped<HostTokenRoster>();
        services.TryAddSingleton<IRelayHostLinks, NoRelayHostLinks>();
        return services;
    }
}
