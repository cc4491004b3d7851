using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MeatLizard.Infrastructure.Relay;

public static partial class RelayRegistration
{
    /// <summary>
    /// The envelope key ring (section "Relay"), <see cref="AesGcmEnvelopeCipher"/>, <see cref="MemoryReplayGuard"/> and
    /// <see cref="RelayRejectionCounter"/>, all singletons. The key settings are checked here, so a bad value stops
    /// start-up with a <see cref="ConfigurationException"/> naming it. Needs an <see cref="IClock"/> registration.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The root configuration.</param>
    /// <param name="allowEphemeralKey">
    /// True in embedded mode (both ends in one process): with no Relay:Keys, a random key is made for the process.
    /// </param>
    public static IServiceCollection AddEnvelopeCipher(
        this IServiceCollection services, IConfiguration configuration, bool allowEphemeralKey)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(RelayKeyOptions.Section);
        var ring = RelayKeyRing.FromOptions(BindKeyOptions(section), allowEphemeralKey, section["Transport"] ?? "InProcess");

        services.AddOptions<RelayOptions>();
        services.AddMetrics();
        services.AddSingleton(provider =>
        {
            if (ring.IsEphemeral)
            {
                var loggerFactory = provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
                LogEphemeralKey(loggerFactory.CreateLogger(typeof(RelayKeyRing)));
            }

            return ring;
        });
        services.AddSingleton<RelayRejectionCounter>();
        services.AddSingleton<AesGcmEnvelopeCipher>();
        services.AddSingleton<IEnvelopeCipher>(provider => provider.GetRequiredService<AesGcmEnvelopeCipher>());
        return services;
    }

    /// <summary>Both relay ends in this process (<see cref="InProcessRelayTransport"/>).</summary>
    public static IServiceCollection AddInProcessRelayTransport(this IServiceCollection services)
    {
        services.AddSingleton<InProcessRelayTransport>();
        services.AddSingleton(provider => provider.GetRequiredService<InProcessRelayTransport>().Server);
        services.AddSingleton(provider => provider.GetRequiredService<InProcessRelayTransport>().Worker);
        // The server end reaches the worker in this process only, whatever other hosts share the presence store.
        services.AddSingleton<IRelayReach>(provider =>
            new LocalHostReach(provider.GetRequiredService<Application.Inference.HostJobs>().WorkerId));
        return services;
    }

    private sealed class LocalHostReach(Guid workerId) : IRelayReach
    {
        public bool Reaches(Guid candidate) => candidate == workerId;

        public bool Judges(Guid candidate) => Reaches(candidate);
    }

    private static RelayKeyOptions BindKeyOptions(IConfigurationSection section)
    {
        var options = new RelayKeyOptions();
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder names the key and the value it could not convert, e.g. Relay:Keys:0:Id.
            throw new ConfigurationException(ex.Message);
        }

        return options;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "No Relay:Keys configured: an ephemeral relay key is in use for this process (embedded mode only)")]
    private static partial void LogEphemeralKey(ILogger logger);
}
