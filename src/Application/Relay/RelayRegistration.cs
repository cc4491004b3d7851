using MeatLizard.Application.Inference;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Relay;

public static class RelayRegistration
{
    /// <summary>The server bot's part: dispatcher, timeouts and the reader of worker envelopes.</summary>
    public static IServiceCollection AddRelayServer(this IServiceCollection services)
    {
        services.AddHostedService<RelayDispatchLoop>();
        services.AddHostedService<RelayInboundLoop>();
        return services;
    }

    /// <summary>The client bot's part: runs requests on the registered inference engine.</summary>
    public static IServiceCollection AddRelayWorker(this IServiceCollection services)
    {
        DependencyInjection.RegisterClosedImplementations(
            services, typeof(RelayRegistration).Assembly, typeof(MediatR.IRequestHandler<,>), DependencyInjection.IsWorkerHandler);
        services.AddSingleton<WorkerEngine>();
        services.AddSingleton<WorkerRelay>();
        services.AddSingleton<InferenceJobRunner>();
        services.AddHostedService<WorkerLoop>();
        return services;
    }
}
