using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Auth.Queries;

/// <summary>What the sign-in page shows before anyone signs in: who may register, and whether an admin exists yet.</summary>
public sealed record GetRegistration : IRequest<RegistrationDto>;

/// <param name="Policy">open, approval, inviteOnly or closed.</param>
/// <param name="AdminSetUp">False until the first admin registered with the setup link (or was promoted).</param>
public sealed record RegistrationDto(string Policy, bool AdminSetUp);

public sealed class GetRegistrationHandler(SignUpFactsReader facts, IUserRepository users)
    : IRequestHandler<GetRegistration, RegistrationDto>
{
    public async Task<RegistrationDto> Handle(GetRegistration request, CancellationToken cancellationToken) =>
        new(PolicyName(await facts.PolicyAsync(cancellationToken)),
            await users.CountAdminsAsync(cancellationToken) > 0);

    public static string PolicyName(Domain.Users.RegistrationPolicy policy) =>
        char.ToLowerInvariant(policy.ToString()[0]) + policy.ToString()[1..];
}
