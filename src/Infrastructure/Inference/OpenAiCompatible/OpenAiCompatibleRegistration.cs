using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Inference.OpenAiCompatible;

public static class OpenAiCompatibleRegistration
{
    /// <summary>
    /// The OpenAI-compatible engine (Inference:Engine=OpenAiCompatible) as the <see cref="IInferenceEngine"/>: its own
    /// section (address, key, models) and the shared Inference settings (sampling defaults, MaxTokens, ContextSize,
    /// Parallel, TimeoutSeconds), both checked here so a bad value stops start-up with one line naming it.
    /// </summary>
    public static IServiceCollection AddOpenAiCompatibleEngine(this IServiceCollection services, IConfiguration configuration)
    {
        var upstream = OpenAiCompatibleOptions.Read(configuration);
        var options = LlamaCppOptions.Read(configuration);
        services.AddSingleton<IInferenceEngine>(provider => new OpenAiCompatibleEngine(upstream, options,
            provider.GetRequiredService<Microsoft.Extensions.Logging.ILogger<OpenAiCompatibleEngine>>()));
        return services;
    }
}
