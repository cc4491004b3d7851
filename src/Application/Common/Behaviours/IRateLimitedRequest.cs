using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Common.Behaviours;

/// <summary>
/// A request that costs something and is limited by token buckets: one token of each of
/// <see cref="LimitedBy"/>, taken in order before the handler runs.
/// </summary>
public interface IRateLimitedRequest
{
    /// <summary>
    /// The buckets: per client IP for the scopes <see cref="RateLimitScopes.IsPerClientIp"/> names, else per
    /// signed-in user.
    /// </summary>
    IReadOnlyList<RateLimitScope> LimitedBy { get; }

    /// <summary>
    /// True when only a request that succeeds counts: the tokens of one that fails (the chat is gone, busy or closed,
    /// the user banned, a later bucket empty) are given back. False where trying is itself what is limited (sign-up,
    /// a password change: a refused guess must cost).
    /// </summary>
    bool OnlySuccessCounts => false;
}
