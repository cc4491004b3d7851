using FluentValidation;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Admin.Commands;

public sealed class UnbanUserValidator : AbstractValidator<UnbanUser>
{
    public UnbanUserValidator() => RuleFor(c => c.Username).Must(Username.IsValidOrChannelMember).WithMessage(UsernameRule.Message);
}
