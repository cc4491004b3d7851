using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

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
        if (options.Models.Count > 0)
        {
            return engine == "LlamaServer"
                ? services.AddLlamaServerModels(options)
                : throw new ConfigurationException(
                    $"Inference:Models needs Inference:Engine=LlamaServer (one llama-server per model); {engine} serves the one model of Inference:ModelPath.");
        }

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

    /// <summary>One managed llama-server per model of Inference:Models, each file checked here.</summary>
    private static IServiceCollection AddLlamaServerModels(this IServiceCollection services, LlamaCppOptions options)
    {
        var models = options.Models.Select(model =>
        {
            var modelOptions = options.For(model);
            return (model.Name, Options: modelOptions,
                Installation: LlamaCppInstallation.Resolve(modelOptions, needsCompletionBinary: false, $"{model.Setting}:ModelPath"));
        }).ToList();
        services.AddSingleton(options);
        services.AddSingleton(provider => new LlamaServerModels(models.Select(m => (m.Name,
            new LlamaServerEngine(m.Options, m.Installation, provider.GetRequiredService<ILogger<LlamaServerEngine>>()))).ToList()));
        services.AddSingleton<IInferenceEngine>(provider => provider.GetRequiredService<LlamaServerModels>());
        services.AddHostedService(provider => provider.GetRequiredService<LlamaServerModels>());
        return services;
    }
}
