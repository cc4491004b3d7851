using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Relay.Commands;
using MeatLizard.Application.Relay.Dispatch;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Application.Relay.Outcomes;
using MeatLizard.Application.Relay.Packets;
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
        services.AddRelayServerHandlers();
        services.AddScoped<LocalRelayControl>();
        services.AddScoped<Abstractions.IRelayControl>(provider => provider.GetRequiredService<LocalRelayControl>());
        services.AddSingleton<Abstractions.IEmbeddingRelay, Embeddings.RelayedEmbeddings>();
        services.AddHostedService<RelayDispatchLoop>();
        services.AddHostedService<DispatcherLiveness>();
        services.AddHostedService<RelayInboundLoop>();
        return services;
    }

    /// <summary>
    /// What every host that ends relay requests shares: the hosts' registry and what is known of them, the transport's
    /// health, the gate and stream state of requests in flight, and the ways a request ends. Singletons hold what one
    /// process knows; the rest is made per scope.
    /// </summary>
    internal static IServiceCollection AddRelayCore(this IServiceCollection services)
    {
        services.AddDeferred();
        services.AddSingleton<RelayRequestGate>();
        services.AddSingleton<RelayStreamState>();
        services.AddSingleton(_ => new ProcessPauses());
        services.AddSingleton<HostsHeard>();
        services.AddSingleton<HostsOnline>();
        services.AddSingleton<ModelHosts>();
        services.AddSingleton<AnswerTimes>();
        services.AddSingleton<UserTurns>();
        services.AddSingleton<HostRuns>();
        services.AddSingleton<QueueWakes>();
        services.AddSingleton<HostFailures>();
        services.AddSingleton<RelayTransportHealth>();
        services.AddSingleton<RelayWay>();
        services.AddScoped<OutcomeStore>();
        services.AddSingleton<OutcomeFigures>();
        services.AddScoped<OutcomeTelling>();
        services.AddSingleton<HostEnvelopes>();
        services.AddSingleton<HostsToldToStop>();
        services.AddScoped<FallbackReplies>();
        services.AddScoped<AnswerReuse>();
        services.AddSingleton<Messages.Caching.CachedAnswers>();
        services.TryAddSingleton<IAnswerCacheStore, NoAnswerCache>();
        services.AddScoped<CompleteOutcome>();
        services.AddScoped<NoticeOutcome>();
        services.AddScoped<FallbackOutcome>();
        services.AddScoped<CancelOutcome>();
        services.AddScoped<RequeueOutcome>();
        services.AddScoped<RelayOutcomes>();
        services.AddScoped<RelayCancellation>();
        return services;
    }

    /// <summary>The relay server's handlers (dispatch, expiry, hosts' packets) and the parts they are made of.</summary>
    internal static IServiceCollection AddRelayServerHandlers(this IServiceCollection services)
    {
        services
            .AddRequestHandler<DispatchPendingRequestsHandler>()
            .AddRequestHandler<ExpireOverdueRequestsHandler>()
            .AddRequestHandler<HandleHostPacketHandler>();
        services.AddScoped<DispatchClaims>();
        services.TryAddSingleton<DispatcherRun>();
        services.AddSingleton<DispatchPlanner>();
        services.TryAddSingleton<Messages.ChatImages>();
        services.AddScoped<DispatchBatch>();
        services.AddScoped<Messages.IQuestionHandOff, EarlyDispatch>();
        services.AddScoped<RequestSender>();
        services.AddScoped<UnsentRequests>();
        services.AddSingleton<QueuePositions>();
        services.AddScoped<UnplacedRequests>();
        services.AddSingleton<QuietHosts>();
        services.AddSingleton<HostHeartbeats>();
        services.AddSingleton<HostPacketOpening>();
        services.AddSingleton<Embeddings.EmbeddingCalls>();
        services.AddScoped<HostErrors>();
        services.AddSingleton<StreamedPieces>();
        services.AddScoped<RequestEnvelopes>();
        return services;
    }

    /// <summary>The client bot's part: runs requests on the registered inference engine.</summary>
    public static IServiceCollection AddRelayWorker(this IServiceCollection services)
    {
        services
            .AddRequestHandler<Inference.Commands.HandleServerPacketHandler>()
            .AddRequestHandler<Inference.Commands.SendHostHeartbeatHandler>();
        services.AddSingleton<HostEngine>();
        services.AddSingleton<HostRelay>();
        services.TryAddSingleton<Abstractions.IGenerationIndicator, Abstractions.NoGenerationIndicator>();
        services.AddSingleton<JobEnvelopes>();
        services.AddSingleton<InferenceJobRunner>();
        services.AddSingleton<EmbeddingJobRunner>();
        services.AddHostedService<HostLoop>();

        // The host must wait for the drain: its own shutdown limit (30 s by default) would cut it short.
        services.AddOptions<HostOptions>().Configure<IOptions<ModelHostOptions>>((host, worker) =>
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
