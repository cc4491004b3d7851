using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>Which host is asking: each checks the dependencies it uses.</summary>
public enum DoctorHost
{
    Api,
    ServerBot,
    ClientBot,
}

public static class DoctorRegistration
{
    /// <summary>
    /// The checks of the <c>doctor</c> verb for the dependencies this host is configured with. Call after the adapters
    /// are registered: the checks reuse their settings (and the Discord client), and nothing connects until the verb runs.
    /// </summary>
    public static IServiceCollection AddDoctorChecks(this IServiceCollection services, InfrastructureSettings settings, DoctorHost host)
    {
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton<IDoctorCheck, DatabaseDoctorCheck>();
        if (settings.CacheProvider == CacheProvider.Redis)
        {
            services.AddSingleton<IDoctorCheck, RedisDoctorCheck>();
        }

        if (settings.ObjectStoreProvider == ObjectStoreProvider.S3)
        {
            services.AddSingleton<IDoctorCheck, S3DoctorCheck>();
        }

        if (host != DoctorHost.Api && settings.Transport != RelayTransportKind.Direct)
        {
            services.AddSingleton<IDoctorCheck>(provider => new DiscordDoctorCheck(
                provider.GetRequiredService<DiscordRestClient>(), provider.GetRequiredService<DiscordOptions>(),
                serverBot: host == DoctorHost.ServerBot));
        }

        if (host == DoctorHost.ClientBot && settings.Transport == RelayTransportKind.Direct)
        {
            services.AddSingleton<IDoctorCheck, DirectRelayDoctorCheck>();
        }

        var runsModel = host == DoctorHost.ClientBot
            || host == DoctorHost.Api && settings.Dispatcher == DispatcherKind.Local && settings.Transport != RelayTransportKind.Direct;
        if (runsModel && settings.Engine is EngineKind.LlamaServer or EngineKind.LlamaCli)
        {
            services.AddSingleton<IDoctorCheck>(provider => new LlamaDoctorCheck(
                provider.GetRequiredService<LlamaCppInstallation>(), settings));
        }

        services.AddSingleton<IDoctorCheck, RelayKeysDoctorCheck>();
        return services;
    }
}
