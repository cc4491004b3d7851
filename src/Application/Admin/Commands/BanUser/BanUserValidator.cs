using FluentValidation;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Admin.Commands;

public sealed class BanUserValidator : AbstractValidator<BanUser>
{
    public BanUserValidator() => RuleFor(c => c.Username).Must(Username.IsValidOrChannelMember).WithMessage(UsernameRule.Message);
}
