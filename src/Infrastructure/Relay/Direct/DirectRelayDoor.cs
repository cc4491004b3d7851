using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// Lets a model host in at the direct relay's handshake: its <c>Authorization: Bearer</c> token must be a live host
/// token. Refusals (none, unknown, revoked) are counted; the token is never logged. A token let in to connect is noted as
/// used; one only probed (the client bot's doctor) is not, so the console's "last connected" stays true.
/// </summary>
public sealed class DirectRelayDoor(IServiceScopeFactory scopes, DirectRelayCounters counters)
{
    /// <summary>The host's name, or null when it is refused; <paramref name="connecting"/> false for a probe.</summary>
    public async Task<string?> AdmitAsync(string? authorization, bool connecting, CancellationToken cancellationToken)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            || authorization.Length == scheme.Length)
        {
            counters.Increment(DirectRelayDrop.RefusedToken);
            return null;
        }

        await using var scope = scopes.CreateAsyncScope();
        var tokens = scope.ServiceProvider.GetRequiredService<IRelayHostTokens>();
        var token = await tokens.FindByHashAsync(RegistrationCodes.Hash(authorization[scheme.Length..]), cancellationToken);
        if (token is null || token.IsRevoked)
        {
            counters.Increment(DirectRelayDrop.RefusedToken);
            return null;
        }

        if (connecting)
        {
            await tokens.MarkUsedAsync(token.Id, scope.ServiceProvider.GetRequiredService<IClock>().UtcNow, cancellationToken);
        }

        return token.Name;
    }
}
