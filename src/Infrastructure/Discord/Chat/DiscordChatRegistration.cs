using MeatLizard.Application.Channels;
using MeatLizard.Infrastructure.Discord.Chat;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Discord;

public static class DiscordChatRegistration
{
    /// <summary>
    /// Members chat with the model in the allowed channels (needs the server bot's Discord connection,
    /// <see cref="DiscordRegistration.AddDiscordServerRelay"/>): the Discord adapter, its listener, the answers' ratings by reaction
    /// (<see cref="DiscordReactionFeedback"/>) and the channel handler.
    /// </summary>
    public static IServiceCollection AddDiscordChat(this IServiceCollection services)
    {
        services.AddChannelConversations();
        services.AddSingleton<DiscordChatAdapter>();
        services.AddSingleton<DiscordChatListener>();
        services.AddSingleton<IDiscordEventHandler>(provider => provider.GetRequiredService<DiscordChatListener>());
        services.AddHostedService(provider => provider.GetRequiredService<DiscordChatListener>());
        services.AddSingleton<MemberThumbs>();
        services.AddSingleton<DiscordReactionFeedback>();
        services.AddSingleton<IDiscordEventHandler>(provider => provider.GetRequiredService<DiscordReactionFeedback>());
        services.AddHostedService(provider => provider.GetRequiredService<DiscordReactionFeedback>());
        return services;
    }
}
