using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Common.Behaviours;

/// <summary>
/// Takes one token of each of the request's scopes before the handler runs (after validation, so a malformed request
/// costs nothing but also does nothing); an empty bucket stops it with <see cref="RateLimitedException"/> (429 with
/// Retry-After) naming that scope. The buckets are the same <see cref="IRateLimiter"/> everywhere: in memory when
/// embedded, in Redis and so shared by every API instance in distributed mode. A scope whose key the caller lacks (no
/// user, no address) is skipped, and the handler refuses such a caller for its own reasons.
/// </summary>
/// <remarks>
/// Sending, regenerating and editing ask the model for work and share the user's and the address's buckets through
/// this one behaviour, so the three cost the same and give their tokens back the same way.
/// </remarks>
public sealed class RateLimitBehaviour<TRequest, TResponse>(IServiceProvider services)
    : IPipelineBehavior<TRequest, TResponse>
    where TRequest : IRateLimitedRequest
{
    public async Task<TResponse> Handle(
        TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        if (request.LimitedBy.Count == 0)
        {
            return await next();
        }

        // Resolved only here: hosts that send no limited request (the bots) need no caller and no limiter.
        var caller = services.GetService<ICurrentUser>();
        // Only once a bucket applies: a caller with no key for any scope (a Discord admin's command) needs no limiter.
        IRateLimiter? limiter = null;
        var taken = new List<(RateLimitScope Scope, string Key)>(request.LimitedBy.Count);
        try
        {
            foreach (var scope in request.LimitedBy)
            {
                if (KeyOf(scope, caller) is not { } key)
                {
                    continue;
                }

                limiter ??= services.GetRequiredService<IRateLimiter>();
                var decision = await limiter.TryAcquireAsync(scope, key, cancellationToken);
                if (!decision.Allowed)
                {
                    services.GetService<PlatformMetrics>()?.Refused(scope.ToString().ToLowerInvariant());
                    throw new RateLimitedException(decision.RetryAfter, scope.ToString().ToLowerInvariant());
                }

                taken.Add((scope, key));
            }

            return await next();
        }
        catch when (request.OnlySuccessCounts && taken.Count > 0)
        {
            foreach (var (scope, key) in taken)
            {
                await limiter!.GiveBackAsync(scope, key, CancellationToken.None);
            }

            throw;
        }
    }

    /// <summary>Whose bucket of <paramref name="scope"/> the caller takes from: their address, group or user.</summary>
    private static string? KeyOf(RateLimitScope scope, ICurrentUser? caller) =>
        scope.IsPerClientIp() ? caller?.ClientIp
        : scope == RateLimitScope.Guild ? caller?.GroupId
        : caller?.Id?.ToString();
}
