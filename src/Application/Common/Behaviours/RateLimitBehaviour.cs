using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Common.Behaviours;

/// <summary>A request that costs something and is limited by one token bucket of <see cref="RateLimitScope"/>.</summary>
public interface IRateLimitedRequest
{
    /// <summary>
    /// The bucket: per client IP for the scopes <see cref="RateLimitScopes.IsPerClientIp"/> names, else per signed-in
    /// user.
    /// </summary>
    RateLimitScope RateLimitScope { get; }
}

/// <summary>
/// Takes one token of the request's scope before the handler runs (after validation, so a malformed request costs
/// nothing but also does nothing); an empty bucket stops it with <see cref="RateLimitedException"/> (429 with
/// Retry-After). The buckets are the same <see cref="IRateLimiter"/> that limits sending: in memory when embedded,
/// in Redis and so shared by every API instance in distributed mode. A caller without a key (no user, no address)
/// is left to the handler, which refuses it for its own reasons.
/// </summary>
public sealed class RateLimitBehaviour<TRequest, TResponse>(IServiceProvider services)
    : IPipelineBehavior<TRequest, TResponse>
    where TRequest : notnull
{
    public async Task<TResponse> Handle(
        TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        if (request is not IRateLimitedRequest limited)
        {
            return await next();
        }

        // Resolved only here: hosts that send no limited request (the bots) need no caller and no limiter.
        var caller = services.GetService<ICurrentUser>();
        var scope = limited.RateLimitScope;
        var key = scope.IsPerClientIp() ? caller?.ClientIp : caller?.Id?.ToString();
        if (key is not null)
        {
            var decision = await services.GetRequiredService<IRateLimiter>().TryAcquireAsync(scope, key, cancellationToken);
            if (!decision.Allowed)
            {
                throw new RateLimitedException(decision.RetryAfter, scope.ToString().ToLowerInvariant());
            }
        }

        return await next();
    }
}
