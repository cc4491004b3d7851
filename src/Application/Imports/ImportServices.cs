using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Imports;

/// <summary>Importing chats from ChatGPT's export and MeatLizard's own (issue 40).</summary>
internal static class ImportServices
{
    public static IServiceCollection AddChatImports(IServiceCollection services, IConfiguration configuration)
    {
        services.AddRequestHandler<ImportChatsHandler>();
        services.AddScoped<ChatImportWriter>();
        // A bad value stops the host with one line naming the key.
        services.AddOptions<ImportOptions>().Bind(configuration.GetSection(ImportOptions.Section))
            .Validate(o => o.MaxBytes > 0, "Imports:MaxBytes must be a positive number of bytes.")
            .ValidateOnStart();
        return services;
    }
}
