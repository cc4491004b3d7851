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

    /// <summary>
    /// The relay server (embedded API and server bot): its handlers, the control of running requests, the dispatcher,
    /// timeouts and the reader of worker envelopes. An API beside a server bot registers none of it.
    /// </summary>
    public static IServiceCollection AddRelayServer(this IServiceCollection services)
    {
        services
            .AddRequestHandler<DispatchPendingRequestsHandler>()
            .AddRequestHandler<ExpireOverdueRequestsHandler>()
            .AddRequestHandler<HandleWorkerPacketHandler>();
        services.AddScoped<LocalRelayControl>();
        services.AddScoped<Abstractions.IRelayControl>(provider => provider.GetRequiredService<LocalRelayControl>());
        services.AddHostedService<RelayDispatchLoop>();
        services.AddHostedService<RelayInboundLoop>();
        return services;
    }

    /// <summary>The client bot's part: runs requests on the registered inference engine.</summary>
    public static IServiceCollection AddRelayWorker(this IServiceCollection services)
    {
        services
            .AddRequestHandler<Inference.Commands.HandleServerPacketHandler>()
            .AddRequestHandler<Inference.Commands.SendWorkerHeartbeatHandler>();
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
