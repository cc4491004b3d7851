using FluentValidation;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

public sealed class SetFallbackModeValidator : AbstractValidator<SetFallbackMode>
{
    public SetFallbackModeValidator() =>
        RuleFor(c => c.Mode).Must(m => TryMode(m, out _)).WithMessage("The fallback mode is inform or markov.");

    public static bool TryMode(string? value, out FallbackMode mode) =>
        Enum.TryParse(value, ignoreCase: true, out mode) && Enum.IsDefined(mode) && !int.TryParse(value, out _);
}
