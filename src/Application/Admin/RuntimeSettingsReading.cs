using System.Globalization;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin;

/// <summary>The keys of table <c>settings</c> the admin commands write and the running code reads.</summary>
public static class SettingKeys
{
    public const string FallbackMode = "fallback.mode";

    public const string DefaultModel = "model.default";

    public const string Registration = "auth.registration";

    /// <summary>Set (to <c>1</c>) while an admin has drained the model host <paramref name="host"/>.</summary>
    public static string DrainedHost(Guid host) => $"host.drained.{host:N}";

    public static string RateLimit(RateLimitScope scope) =>
        $"ratelimit.{scope.ToString().ToLowerInvariant()}.per_minute";
}

/// <summary>
/// What is in force now: an admin-set value from the settings table where there is a valid one, else configuration.
/// A stored value that no longer parses (edited by hand) is ignored rather than breaking every request.
/// </summary>
public static class RuntimeSettingsReading
{
    public static async ValueTask<FallbackMode> FallbackModeAsync(
        this IRuntimeSettings settings, FallbackMode configured, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var stored = await settings.GetAsync(SettingKeys.FallbackMode, cancellationToken);
        return Enum.TryParse<FallbackMode>(stored, ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode
            : configured;
    }

    public static async ValueTask<string> DefaultModelAsync(
        this IRuntimeSettings settings, string configured, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var stored = await settings.GetAsync(SettingKeys.DefaultModel, cancellationToken);
        if (string.IsNullOrWhiteSpace(stored))
        {
            return configured;
        }

        try
        {
            return Domain.Common.ModelName.From(stored).Value;
        }
        catch (Domain.Common.DomainException)
        {
            return configured;
        }
    }

    public static async ValueTask<Domain.Users.RegistrationPolicy> RegistrationPolicyAsync(
        this IRuntimeSettings settings, Domain.Users.RegistrationPolicy configured, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var stored = await settings.GetAsync(SettingKeys.Registration, cancellationToken);
        return Enum.TryParse<Domain.Users.RegistrationPolicy>(stored, ignoreCase: true, out var policy)
               && Enum.IsDefined(policy) && !int.TryParse(stored, out _)
            ? policy
            : configured;
    }

    /// <summary>The per-minute rate may be set by an admin; the burst stays as configured.</summary>
    public static async ValueTask<RateLimit> RateLimitAsync(
        this IRuntimeSettings settings, RateLimitScope scope, RateLimit configured, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var stored = await settings.GetAsync(SettingKeys.RateLimit(scope), cancellationToken);
        return int.TryParse(stored, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var perMinute)
            ? configured with { PerMinute = perMinute }
            : configured;
    }
}
