using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Auth.Queries;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Chooses who may register (open, approval, inviteOnly, closed), for every process, over the configuration.</summary>
public sealed record SetRegistrationPolicy(AdminActor Actor, string? Policy) : AdminCommand<RegistrationDto>(Actor)
{
    public override string AuditName => "registration";

    public override string? AuditArguments => $"policy={Policy}";
}

public sealed class SetRegistrationPolicyHandler(AdminSettingsWriter writer, SignUpFactsReader facts, IUserRepository users)
    : IRequestHandler<SetRegistrationPolicy, RegistrationDto>
{
    public async Task<RegistrationDto> Handle(SetRegistrationPolicy request, CancellationToken cancellationToken)
    {
        SetRegistrationPolicyValidator.TryPolicy(request.Policy, out var policy);
        await writer.SetAsync(SettingKeys.Registration, policy.ToString(), request.Actor, cancellationToken);
        return new RegistrationDto(GetRegistrationHandler.PolicyName(await facts.PolicyAsync(cancellationToken)),
            await users.CountAdminsAsync(cancellationToken) > 0);
    }
}

public sealed class SetRegistrationPolicyValidator : AbstractValidator<SetRegistrationPolicy>
{
    public SetRegistrationPolicyValidator() =>
        RuleFor(c => c.Policy).Must(p => TryPolicy(p, out _)).OverridePropertyName("policy")
            .WithMessage("The registration policy is open, approval, inviteOnly or closed.");

    public static bool TryPolicy(string? value, out RegistrationPolicy policy) =>
        Enum.TryParse(value, ignoreCase: true, out policy) && Enum.IsDefined(policy) && !int.TryParse(value, out _);
}
