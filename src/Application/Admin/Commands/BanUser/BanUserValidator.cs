using FluentValidation;

namespace MeatLizard.Application.Admin.Commands;

public sealed class BanUserValidator : AbstractValidator<BanUser>
{
    public BanUserValidator() => RuleFor(c => c.Username).Must(UsernameRule.IsIdOrName).WithMessage(UsernameRule.Message);
}
