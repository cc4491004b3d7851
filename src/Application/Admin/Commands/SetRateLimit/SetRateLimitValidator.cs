using FluentValidation;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

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
