using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Personas.Commands;
using MeatLizard.Application.Personas.Queries;
using MeatLizard.Application.Chats.Commands;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Personas;

/// <summary>What a user keeps for themselves (issue 37): personas, their defaults, and deleting their account.</summary>
internal static class PersonaServices
{
    public static IServiceCollection AddPersonasAndAccountData(IServiceCollection services)
    {
        services
            .AddRequestHandler<ListPersonasHandler>()
            .AddRequestHandler<CreatePersonaHandler>()
            .AddRequestHandler<UpdatePersonaHandler>()
            .AddRequestHandler<DeletePersonaHandler>()
            .AddRequestHandler<GetPreferencesHandler>()
            .AddRequestHandler<UpdatePreferencesHandler>()
            .AddRequestHandler<DeleteMyAccountHandler>()
            .AddRequestHandler<DeleteUserHandler>();
        services
            .AddValidator<CreatePersona, CreatePersonaValidator>()
            .AddValidator<UpdatePersona, UpdatePersonaValidator>()
            .AddValidator<UpdatePreferences, UpdatePreferencesValidator>()
            .AddValidator<DeleteMyAccount, DeleteMyAccountValidator>()
            .AddValidator<DeleteUser, DeleteUserValidator>()
            .AddValidator<CreateChat, CreateChatValidator>();
        services.AddScoped<AccountDeletion>();
        services.AddScoped<ErasedAccountObjects>();
        return services;
    }
}
