using FluentValidation;

namespace MeatLizard.Application.Auth.Commands;

public sealed class ChangePasswordValidator : AbstractValidator<ChangePassword>
{
    public ChangePasswordValidator()
    {
        RuleFor(x => x.CurrentPassword).NotEmpty().OverridePropertyName("currentPassword")
            .WithMessage("The current password is required.");
        RuleFor(x => x.NewPassword).NotEmpty()
            .Length(RegisterUserValidator.MinPasswordLength, RegisterUserValidator.MaxPasswordLength)
            .OverridePropertyName("newPassword")
            .WithMessage($"A password is {RegisterUserValidator.MinPasswordLength}–{RegisterUserValidator.MaxPasswordLength} characters.");
    }
}
