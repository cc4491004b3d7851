using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Auth.Queries;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Admin;

/// <summary>Who may register and who is an admin: the setup link, the sign-up policy, approvals and invites.</summary>
internal static class AccountAdministration
{
    public static IServiceCollection AddAccountAdministration(this IServiceCollection services, IConfiguration configuration)
    {
        services
            .AddRequestHandler<GetRegistrationHandler>()
            .AddRequestHandler<CreateSetupLinkHandler>()
            .AddRequestHandler<PromoteUserHandler>()
            .AddRequestHandler<DemoteUserHandler>()
            .AddRequestHandler<ApproveUserHandler>()
            .AddRequestHandler<RejectUserHandler>()
            .AddRequestHandler<SetRegistrationPolicyHandler>()
            .AddRequestHandler<CreateInviteHandler>()
            .AddRequestHandler<RevokeInviteHandler>()
            .AddRequestHandler<CreatePasswordResetHandler>()
            .AddRequestHandler<ListUsersHandler>()
            .AddRequestHandler<ListInvitesHandler>();
        services
            .AddValidator<PromoteUser, PromoteUserValidator>()
            .AddValidator<DemoteUser, DemoteUserValidator>()
            .AddValidator<ApproveUser, ApproveUserValidator>()
            .AddValidator<RejectUser, RejectUserValidator>()
            .AddValidator<SetRegistrationPolicy, SetRegistrationPolicyValidator>()
            .AddValidator<CreateInvite, CreateInviteValidator>()
            .AddValidator<CreatePasswordReset, CreatePasswordResetValidator>();

        // A bad value stops the host with one line naming the key.
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section))
            .Validate(o => Enum.IsDefined(o.Registration), "Auth:Registration must be Open, Approval, InviteOnly or Closed.")
            .ValidateOnStart();
        services.AddScoped<AdminActors>();
        services.AddScoped<SignUpFactsReader>();
        return services;
    }
}
