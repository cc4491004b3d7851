using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Application.Channels;

public static class ChannelRegistration
{
    /// <summary>
    /// The channel handler and commands, for a host that serves chat networks (the server bot). Its caller is the
    /// member whose question a scope answers (<see cref="ChannelCaller"/>): such a host has no other caller.
    /// </summary>
    public static IServiceCollection AddChannelConversations(this IServiceCollection services)
    {
        services.AddScoped<ChannelCaller>();
        services.AddScoped<ICurrentUser>(provider => provider.GetRequiredService<ChannelCaller>());
        services.AddScoped<ChannelMembers>();
        services.AddScoped<ChannelChats>();
        services.AddScoped<ChannelAnswering>();
        services.AddScoped<ChannelQuestions>();
        services.AddScoped<IChannelCommands, ChannelCommands>();
        services.AddScoped<IChannelPersonas, ChannelPersonas>();
        services.AddSingleton<IChannelConversations, ChannelConversations>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Common.DutyRunner>();
        return services;
    }
}
