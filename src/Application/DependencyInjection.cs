using System.Reflection;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
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
        RegisterClosedImplementations(services, assembly, typeof(IRequestHandler<,>));
        RegisterClosedImplementations(services, assembly, typeof(INotificationHandler<>));
        RegisterClosedImplementations(services, assembly, typeof(IValidator<>));

        // Order matters: the first registered runs outermost.
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(UnhandledExceptionBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(ValidationBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(PerformanceBehaviour<,>));

        var licenseKey = builder.Configuration["AutoMapper:LicenseKey"];
        services.AddAutoMapper(cfg =>
        {
            if (!string.IsNullOrWhiteSpace(licenseKey))
            {
                cfg.LicenseKey = licenseKey;
            }
        }, assembly);

        services.AddOptions<RelayOptions>().Bind(builder.Configuration.GetSection(RelayOptions.Section));
        services.AddOptions<FallbackOptions>().Bind(builder.Configuration.GetSection(FallbackOptions.Section));
        services.AddOptions<RateLimitOptions>().Bind(builder.Configuration.GetSection(RateLimitOptions.Section));
        services.AddOptions<InferenceOptions>().Bind(builder.Configuration.GetSection(InferenceOptions.Section));

        services.AddSingleton<RelayRequestGate>();
        services.AddSingleton<RelayStreamState>();
        services.AddSingleton<WorkerJobs>();
        services.AddScoped<PromptBuilder>();
        services.AddScoped<UserAccess>();
        services.AddScoped<RelayOutcomes>();
        services.AddScoped<RelayCancellation>();
        return builder;
    }

    private static void RegisterClosedImplementations(IServiceCollection services, Assembly assembly, Type openInterface)
    {
        foreach (var type in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false }))
        {
            foreach (var contract in type.GetInterfaces()
                         .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == openInterface))
            {
                services.AddScoped(contract, type);
            }
        }
    }
}
