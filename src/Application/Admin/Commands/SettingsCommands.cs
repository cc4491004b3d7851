using System.Globalization;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Stores an admin setting and makes this process see it at once.</summary>
public sealed class AdminSettingsWriter(ISettingsStore store, IRuntimeSettings runtime, IClock clock)
{
    public async Task SetAsync(string key, string value, AdminActor actor, CancellationToken cancellationToken)
    {
        await store.SetAsync(new SettingEntry(key, value, clock.UtcNow, actor.ToString()), cancellationToken);
        runtime.Invalidate();
    }
}

/// <summary>Sets the per-minute rate of a rate-limit scope (user, ip or guild); 0 means unlimited.</summary>
public sealed record SetRateLimit(AdminActor Actor, string Scope, int PerMinute) : AdminCommand<RateLimitSetDto>(Actor)
{
    public const int MaxPerMinute = 100_000;

    public override string AuditName => "ratelimit";

    public override string? AuditArguments => $"scope={Scope} perMinute={PerMinute.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>The limit in force after the change (the burst stays as configured).</summary>
public sealed record RateLimitSetDto(string Scope, int PerMinute, int Burst);

public sealed class SetRateLimitValidator : AbstractValidator<SetRateLimit>
{
    public SetRateLimitValidator()
    {
        RuleFor(c => c.Scope).Must(s => TryScope(s, out _))
            .WithMessage("The scope is one of: user, ip, guild.");
        RuleFor(c => c.PerMinute).InclusiveBetween(0, SetRateLimit.MaxPerMinute)
            .WithMessage($"The rate is a number of requests per minute from 0 (unlimited) to {SetRateLimit.MaxPerMinute}.");
    }

    public static bool TryScope(string? value, out RateLimitScope scope) =>
        Enum.TryParse(value, ignoreCase: true, out scope) && Enum.IsDefined(scope) && !int.TryParse(value, out _);
}

public sealed class SetRateLimitHandler(AdminSettingsWriter writer, IRateLimitSettings limits)
    : IRequestHandler<SetRateLimit, RateLimitSetDto>
{
    public async Task<RateLimitSetDto> Handle(SetRateLimit request, CancellationToken cancellationToken)
    {
        SetRateLimitValidator.TryScope(request.Scope, out var scope);
        await writer.SetAsync(SettingKeys.RateLimit(scope), request.PerMinute.ToString(CultureInfo.InvariantCulture),
            request.Actor, cancellationToken);
        var now = await limits.GetAsync(scope, cancellationToken);
        return new RateLimitSetDto(scope.ToString().ToLowerInvariant(), now.PerMinute, now.Burst);
    }
}

/// <summary>Sets the model used by chats that do not choose one.</summary>
public sealed record SetDefaultModel(AdminActor Actor, string Model) : AdminCommand<string>(Actor)
{
    public override string AuditName => "model";

    public override string? AuditArguments => $"name={Model}";
}

public sealed class SetDefaultModelValidator : AbstractValidator<SetDefaultModel>
{
    public SetDefaultModelValidator() =>
        RuleFor(c => c.Model).Must(BeAModelName)
            .WithMessage($"A model name is 1–{ModelName.MaxLength} characters of letters, digits, '.', '_', '-', ':' or '/'.");

    private static bool BeAModelName(string? value)
    {
        try
        {
            ModelName.From(value);
            return true;
        }
        catch (DomainException)
        {
            return false;
        }
    }
}

public sealed class SetDefaultModelHandler(AdminSettingsWriter writer, IRuntimeSettings runtime, IOptions<InferenceOptions> inference)
    : IRequestHandler<SetDefaultModel, string>
{
    public async Task<string> Handle(SetDefaultModel request, CancellationToken cancellationToken)
    {
        await writer.SetAsync(SettingKeys.DefaultModel, ModelName.From(request.Model).Value, request.Actor, cancellationToken);
        return await runtime.DefaultModelAsync(inference.Value.DefaultModel, cancellationToken);
    }
}

/// <summary>Chooses how the platform answers when no worker can: a notice (inform) or a Markov-chain reply.</summary>
public sealed record SetFallbackMode(AdminActor Actor, string Mode) : AdminCommand<FallbackMode>(Actor)
{
    public override string AuditName => "fallback";

    public override string? AuditArguments => $"mode={Mode}";
}

public sealed class SetFallbackModeValidator : AbstractValidator<SetFallbackMode>
{
    public SetFallbackModeValidator() =>
        RuleFor(c => c.Mode).Must(m => TryMode(m, out _)).WithMessage("The fallback mode is inform or markov.");

    public static bool TryMode(string? value, out FallbackMode mode) =>
        Enum.TryParse(value, ignoreCase: true, out mode) && Enum.IsDefined(mode) && !int.TryParse(value, out _);
}

public sealed class SetFallbackModeHandler(AdminSettingsWriter writer, IFallbackResponder fallback)
    : IRequestHandler<SetFallbackMode, FallbackMode>
{
    public async Task<FallbackMode> Handle(SetFallbackMode request, CancellationToken cancellationToken)
    {
        SetFallbackModeValidator.TryMode(request.Mode, out var mode);
        await writer.SetAsync(SettingKeys.FallbackMode, mode.ToString().ToLowerInvariant(), request.Actor, cancellationToken);
        return await fallback.GetModeAsync(cancellationToken);
    }
}
