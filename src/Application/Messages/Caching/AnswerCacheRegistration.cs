using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Application.Messages.Caching;

public static class AnswerCacheRegistration
{
    /// <summary>
    /// The answer cache's settings (checked at start, each rule naming its key) and its part of the conversation core.
    /// The store is Infrastructure's (in this process, or Redis); a host without one finds nothing.
    /// </summary>
    internal static IServiceCollection AddAnswerCache(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AnswerCacheOptions>().Bind(configuration.GetSection(AnswerCacheOptions.Section))
            .Validate(o => o.Lifetime > TimeSpan.Zero && o.Lifetime <= AnswerCacheOptions.MaxLifetime,
                "Cache:Answers:Lifetime must be a positive time span of at most 30 days, e.g. 01:00:00.")
            .Validate(o => o.MaxEntries is >= 1 and <= AnswerCacheOptions.MaxMaxEntries,
                "Cache:Answers:MaxEntries must be a whole number from 1 to 10000000, e.g. 10000.")
            .ValidateOnStart();
        services.TryAddSingleton<IAnswerCacheStore, NoAnswerCache>();
        services.AddScoped<AnswerCache>();
        return services;
    }
}
