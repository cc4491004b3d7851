using MeatLizard.Application.Status;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Infrastructure.Metrics;

public static class MetricsRegistration
{
    /// <summary>
    /// The exposition of this host's instruments, the process gauges and the loopback port (<see cref="MetricsOptions"/>).
    /// <paramref name="sampleStatus"/>: this host can read the queue and the workers (the API, the server bot), so it
    /// samples them for their gauges.
    /// </summary>
    public static IServiceCollection AddMetricsExposition(
        this IServiceCollection services, IConfiguration configuration, bool sampleStatus)
    {
        services.AddSingleton(MetricsOptions.Read(configuration));
        services.AddMetrics();
        services.AddSingleton<MetricsExposition>();
        services.AddSingleton<ProcessMetrics>();
        // Every hosted service is built before any starts, so the listener counts from the start.
        services.AddHostedService<MetricsStart>();
        services.AddHostedService<LoopbackMetricsServer>();
        if (sampleStatus)
        {
            services.AddHostedService<PlatformStatusSampler>();
        }

        return services;
    }

    /// <summary>Creates the listener and the process gauges when the host starts rather than at the first scrape.</summary>
    private sealed class MetricsStart(MetricsExposition exposition, ProcessMetrics process) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(exposition);
            GC.KeepAlive(process);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
