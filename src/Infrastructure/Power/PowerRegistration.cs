using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Power;

public static class PowerRegistration
{
    /// <summary>
    /// The power source of this OS and the <see cref="PowerWatch"/> that stops the worker on low battery (section
    /// "Host", or its old name "Worker"; a bad value stops start-up with a line naming the key).
    /// </summary>
    public static IServiceCollection AddPowerWatch(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HostPowerOptions>().BindHostSections(configuration)
            .Validate(o => o.MinBatteryPercent is >= 0 and <= 100, "Host:MinBatteryPercent must be from 0 (off) to 100.")
            .Validate(o => o.PowerCheckInterval > TimeSpan.Zero, "Host:PowerCheckInterval must be a positive time span, e.g. 00:00:30.")
            .ValidateOnStart();
        services.AddSingleton<IPowerSource>(OperatingSystem.IsMacOS() ? new PmsetPowerSource() : new SysfsPowerSource());
        services.AddHostedService<PowerWatch>();
        return services;
    }
}
