using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

public static class LlamaCppRegistration
{
    /// <summary>
    /// The llama.cpp engine named by Inference:Engine (LlamaServer or LlamaCli) as the <see cref="IInferenceEngine"/>.
    /// The settings are checked and the binaries and model found here, so a bad value or a missing file stops
    /// start-up with a <see cref="ConfigurationException"/> naming the setting. The managed server is also a hosted
    /// service: register it before the worker, so that on shutdown the worker drains before llama-server stops.
    /// </summary>
    public static IServiceCollection AddLlamaCppEngine(
        this IServiceCollection services, IConfiguration configuration, string engine)
    {
        var options = LlamaCppOptions.Read(configuration);
        var installation = LlamaCppInstallation.Resolve(options, needsCompletionBinary: engine == "LlamaCli");
        services.AddSingleton(options);
        services.AddSingleton(installation);
        switch (engine)
        {
            case "LlamaServer":
                services.AddSingleton<LlamaServerEngine>();
                services.AddSingleton<IInferenceEngine>(provider => provider.GetRequiredService<LlamaServerEngine>());
                services.AddHostedService(provider => provider.GetRequiredService<LlamaServerEngine>());
                break;
            case "LlamaCli":
                services.AddSingleton<IInferenceEngine, LlamaCliEngine>();
                break;
            default:
                throw new ConfigurationException($"Inference:Engine '{engine}' is not a llama.cpp engine; use LlamaServer or LlamaCli.");
        }

        return services;
    }
}
