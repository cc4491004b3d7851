using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Auth;

/// <summary>What a registration is decided on: the policy in force, whether an admin exists, the passes given.</summary>
public sealed class SignUpFactsReader(
    IUserRepository users, IInviteRepository invites, IRuntimeSettings settings, IOptions<AuthOptions> options)
{
    /// <summary>The policy in force: an admin's choice (table <c>settings</c>) over <c>Auth:Registration</c>.</summary>
    public ValueTask<RegistrationPolicy> PolicyAsync(CancellationToken cancellationToken) =>
        settings.RegistrationPolicyAsync(options.Value.Registration, cancellationToken);

    public async Task<SignUpFacts> ReadAsync(CancellationToken cancellationToken) => new(
        await PolicyAsync(cancellationToken),
        await users.CountAdminsAsync(cancellationToken) > 0);

    /// <summary>A setup token or invite code as given, and the invite it names (looked up by its hash).</summary>
    public async Task<SignUpPass> PassAsync(string? code, CancellationToken cancellationToken) =>
        string.IsNullOrWhiteSpace(code)
            ? SignUpPass.None
            : new SignUpPass(true, await invites.GetByCodeHashAsync(RegistrationCodes.Hash(code), cancellationToken));
}
