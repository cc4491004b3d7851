using MeatLizard.Application.Inference;
using MeatLizard.Application.Relay.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay;

public static class RelayRegistration
{
    /// <summary>Time left after the drain deadline for stopped jobs to report and the other services to stop.</summary>
    public static readonly TimeSpan DrainMargin = TimeSpan.FromSeconds(10);

    /// <summary>The server bot's part: dispatcher, timeouts and the reader of worker envelopes.</summary>
    public static IServiceCollection AddRelayServer(this IServiceCollection services)
    {
        services.AddHostedService<RelayDispatchLoop>();
        services.AddHostedService<RelayInboundLoop>();
        return services;
    }

    /// <summary>
    /// For an API instance beside a server bot: drops the relay server's handlers and services (they need the relay's
    /// transport and cipher, which such an instance does not have), so the container validates and nothing here can
    /// dispatch or answer by mistake. Register another <see cref="Abstractions.IRelayControl"/> after it.
    /// </summary>
    public static IServiceCollection RemoveRelayServer(this IServiceCollection services)
    {
        var serverHandlers = services.Where(d => d.ServiceType.IsGenericType
                                                 && d.ServiceType.GetGenericTypeDefinition() == typeof(MediatR.IRequestHandler<,>)
                                                 && d.ImplementationType?.Namespace == typeof(DispatchPendingRequests).Namespace)
            .ToList();
        foreach (var handler in serverHandlers)
        {
            services.Remove(handler);
        }

        services.RemoveAll<RelayOutcomes>();
        services.RemoveAll<RelayCancellation>();
        services.RemoveAll<LocalRelayControl>();
        services.RemoveAll<Abstractions.IRelayControl>();
        return services;
    }

    /// <summary>The client bot's part: runs requests on the registered inference engine.</summary>
    public static IServiceCollection AddRelayWorker(this IServiceCollection services)
    {
        DependencyInjection.RegisterClosedImplementations(
            services, typeof(RelayRegistration).Assembly, typeof(MediatR.IRequestHandler<,>), DependencyInjection.IsWorkerHandler);
        services.AddSingleton<WorkerEngine>();
        services.AddSingleton<WorkerRelay>();
        services.TryAddSingleton<Abstractions.IGenerationIndicator, Abstractions.NoGenerationIndicator>();
        services.AddSingleton<InferenceJobRunner>();
        services.AddHostedService<WorkerLoop>();

        // The host must wait for the drain: its own shutdown limit (30 s by default) would cut it short.
        services.AddOptions<HostOptions>().Configure<IOptions<WorkerOptions>>((host, worker) =>
        {
            var needed = worker.Value.DrainDeadline + DrainMargin;
            if (host.ShutdownTimeout < needed)
            {
                host.ShutdownTimeout = needed;
            }
        });
        return services;
    }
}
