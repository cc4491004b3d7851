using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Chats.Organising;

/// <summary>Organising chats (issue 40): pins, folders, the archive, deleting several at once.</summary>
internal static class OrganisingServices
{
    public static IServiceCollection AddChatOrganising(IServiceCollection services)
    {
        services
            .AddRequestHandler<FolderHandlers>()
            .AddRequestHandler<OrganiseChatHandlers>()
            .AddRequestHandler<DeleteChatsHandler>();
        services
            .AddValidator<CreateFolder, CreateFolderValidator>()
            .AddValidator<RenameFolder, RenameFolderValidator>()
            .AddValidator<DeleteChats, DeleteChatsValidator>();
        // Its objects go as an erased account's do (ErasedAccountObjects, registered with the account's services).
        services.AddScoped<ChatDeletion>();
        return services;
    }
}
