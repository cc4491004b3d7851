using System.Reflection;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Transcripts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Application;

public static class DependencyInjection
{
    /// <summary>MediatR (5.1.0 has no DI package: handlers are found by assembly scan), validators, mapping, services.</summary>
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        var assembly = typeof(DependencyInjection).Assembly;

        services.AddScoped<ServiceFactory>(provider => provider.GetService!);
        services.AddScoped<IMediator, Mediator>();
        // The worker's handlers need the worker's services; AddRelayWorker registers them.
        RegisterClosedImplementations(services, assembly, typeof(IRequestHandler<,>), t => !IsWorkerHandler(t));
        RegisterClosedImplementations(services, assembly, typeof(INotificationHandler<>));
        // Validators take no dependencies and FluentValidation's are thread-safe once built: one instance per process
        // rather than a rule tree built for every request.
        RegisterClosedImplementations(services, assembly, typeof(IValidator<>), lifetime: ServiceLifetime.Singleton);

        // Order matters: the first registered runs outermost.
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(UnhandledExceptionBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(Admin.AdminAuditBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(ValidationBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(RateLimitBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(PerformanceBehaviour<,>));

        var licenseKey = builder.Configuration["AutoMapper:LicenseKey"];
        services.AddAutoMapper(cfg =>
        {
            if (!string.IsNullOrWhiteSpace(licenseKey))
            {
                cfg.LicenseKey = licenseKey;
            }
        }, assembly);

        // Each rule names its key, so a bad value stops the host with one clear line.
        services.AddOptions<RelayOptions>().Bind(builder.Configuration.GetSection(RelayOptions.Section))
            .Validate(o => o.AckTimeout > TimeSpan.Zero, "Relay:AckTimeout must be a positive time span, e.g. 00:00:10.")
            .Validate(o => o.AckDelay >= TimeSpan.Zero && o.AckDelay < o.AckTimeout,
                "Relay:AckDelay must not be negative and must be shorter than Relay:AckTimeout.")
            .Validate(o => o.CompletionTimeout > TimeSpan.Zero, "Relay:CompletionTimeout must be a positive time span, e.g. 00:03:00.")
            .Validate(o => o.PartialInterval >= TimeSpan.Zero, "Relay:PartialInterval must not be negative.")
            .Validate(o => o.FreshnessWindow > TimeSpan.Zero, "Relay:FreshnessWindow must be a positive time span.")
            .Validate(o => o.HeartbeatInterval > TimeSpan.Zero, "Relay:HeartbeatInterval must be a positive time span.")
            .Validate(o => o.WorkerTimeout > o.HeartbeatInterval, "Relay:WorkerTimeout must be longer than Relay:HeartbeatInterval.")
            .Validate(o => o.PollInterval > TimeSpan.Zero, "Relay:PollInterval must be a positive time span.")
            .Validate(o => o.DispatchLease > TimeSpan.Zero, "Relay:DispatchLease must be a positive time span, e.g. 00:00:30.")
            .Validate(o => o.MaxHistoryMessages > 0, "Relay:MaxHistoryMessages must be at least 1.")
            .ValidateOnStart();
        services.AddOptions<WorkerOptions>().Bind(builder.Configuration.GetSection(WorkerOptions.Section))
            .Validate(o => o.DrainDeadline > TimeSpan.Zero && o.DrainDeadline <= WorkerOptions.MaxDrainDeadline,
                "Worker:DrainDeadline must be a positive time span of at most 01:00:00, e.g. 00:00:20.")
            .ValidateOnStart();
        services.AddOptions<FallbackOptions>().Bind(builder.Configuration.GetSection(FallbackOptions.Section))
            .Validate(o => Enum.IsDefined(o.Mode), "Fallback:Mode must be Inform or Markov.")
            .ValidateOnStart();
        services.AddOptions<RateLimitOptions>().Bind(builder.Configuration.GetSection(RateLimitOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<RateLimitOptions>, RateLimitOptionsValidation>();
        services.AddOptions<TranscriptOptions>().Bind(builder.Configuration.GetSection(TranscriptOptions.Section))
            .Validate(o => o.LinkLifetime > TimeSpan.Zero && o.LinkLifetime <= TimeSpan.FromDays(7),
                "Transcripts:LinkLifetime must be positive and at most 7 days, e.g. 1.00:00:00.")
            .Validate(o => o.Retention == TimeSpan.Zero || o.Retention >= o.LinkLifetime,
                "Transcripts:Retention must be 00:00:00 (keep forever) or at least Transcripts:LinkLifetime, e.g. 30.00:00:00.")
            .Validate(o => o.RetentionSweepInterval > TimeSpan.Zero,
                "Transcripts:RetentionSweepInterval must be a positive time span, e.g. 01:00:00.")
            .ValidateOnStart();
        services.AddOptions<InferenceOptions>().Bind(builder.Configuration.GetSection(InferenceOptions.Section))
            .Validate(o => o.ContextSize >= 256, "Inference:ContextSize must be at least 256 tokens.")
            .Validate(o => o.MaxTokens is >= 1 and <= Domain.Common.SamplingParameters.MaxTokensLimit,
                $"Inference:MaxTokens must be between 1 and {Domain.Common.SamplingParameters.MaxTokensLimit}.")
            .Validate(o => o.MaxTokens < o.ContextSize, "Inference:MaxTokens must be smaller than Inference:ContextSize.")
            .ValidateOnStart();

        services.TryAddSingleton<ISessionClosedSignal, NoSessionClosedSignal>();
        services.AddSingleton<RelayRequestGate>();
        services.AddSingleton<RelayStreamState>();
        services.AddSingleton<WorkerAvailability>();
        services.AddSingleton<Messages.KnownChats>();
        services.AddSingleton<WorkerJobs>();
        services.AddScoped<PromptBuilder>();
        services.AddScoped<UserAccess>();
        services.AddScoped<Auth.SignInCheck>();
        services.AddScoped<TranscriptArchive>();
        services.AddScoped<TranscriptRetention>();
        services.AddScoped<RelayOutcomes>();
        services.AddScoped<RelayCancellation>();
        services.AddScoped<Admin.Commands.AdminSettingsWriter>();
        services.AddScoped<LocalRelayControl>();
        services.AddScoped<IRelayControl>(provider => provider.GetRequiredService<LocalRelayControl>());
        return builder;
    }

    internal static bool IsWorkerHandler(Type type) => type.Namespace == typeof(Inference.Commands.HandleServerPacket).Namespace;

    internal static void RegisterClosedImplementations(
        IServiceCollection services, Assembly assembly, Type openInterface, Func<Type, bool>? include = null,
        ServiceLifetime lifetime = ServiceLifetime.Scoped)
    {
        foreach (var type in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false }
                                                            && (include?.Invoke(t) ?? true)))
        {
            foreach (var contract in type.GetInterfaces()
                         .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == openInterface))
            {
                services.Add(new ServiceDescriptor(contract, type, lifetime));
            }
        }
    }
}
