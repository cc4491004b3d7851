using FluentValidation;

namespace MeatLizard.Application.Admin.Commands;

public sealed class UnbanUserValidator : AbstractValidator<UnbanUser>
{
    public UnbanUserValidator() => RuleFor(c => c.Username).Must(UsernameRule.IsIdOrName).WithMessage(UsernameRule.Message);
}
