using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Application.Channels;

public static class ChannelRegistration
{
    /// <summary>
    /// The channel handler and commands, for a host that serves chat networks (the server bot; the API host when it
    /// serves Telegram). Each chat network's registration adds it, so a second call adds nothing. Whose question a scope
    /// answers is its <see cref="ChannelCaller"/>; the host's <see cref="ICurrentUser"/> shows that member
    /// (<see cref="AddChannelMembersAsCallers"/> or <see cref="AddCallersBesideChannelMembers{TOwnCaller}"/>).
    /// </summary>
    public static IServiceCollection AddChannelConversations(this IServiceCollection services)
    {
        services.TryAddScoped<ChannelCaller>();
        services.TryAddScoped<ChannelMembers>();
        services.TryAddScoped<ChannelChats>();
        services.TryAddScoped<ChannelAnswering>();
        services.TryAddScoped<ChannelQuestions>();
        services.TryAddScoped<IChannelCommands, ChannelCommands>();
        services.TryAddScoped<IChannelPersonas, ChannelPersonas>();
        services.TryAddScoped<MemberAsCaller>();
        services.TryAddScoped<IChannelSearch, ChannelSearch>();
        services.TryAddScoped<IChannelShares, ChannelShares>();
        services.TryAddScoped<IChannelFeedback, ChannelFeedback>();
        services.TryAddSingleton<IChannelConversations, ChannelConversations>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Common.DutyRunner>();
        return services;
    }

    /// <summary>The caller of a host whose only callers are chat network members (the server bot).</summary>
    public static IServiceCollection AddChannelMembersAsCallers(this IServiceCollection services)
    {
        services.TryAddScoped<ChannelCaller>();
        services.AddScoped<ICurrentUser>(provider => provider.GetRequiredService<ChannelCaller>());
        return services;
    }

    /// <summary>
    /// The caller of a host with callers of its own (the API host: the HTTP request's, <typeparamref name="TOwnCaller"/>)
    /// that may also answer chat network members: the member in a scope the channel handler made theirs, else its own.
    /// </summary>
    public static IServiceCollection AddCallersBesideChannelMembers<TOwnCaller>(this IServiceCollection services)
        where TOwnCaller : class, ICurrentUser
    {
        services.TryAddScoped<ChannelCaller>();
        services.AddScoped<TOwnCaller>();
        services.AddScoped<ICurrentUser>(provider => new MemberOrOwnCaller(
            provider.GetRequiredService<ChannelCaller>(), provider.GetRequiredService<TOwnCaller>()));
        return services;
    }
}
