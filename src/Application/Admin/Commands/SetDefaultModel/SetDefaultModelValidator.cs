using FluentValidation;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Admin.Commands;

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
