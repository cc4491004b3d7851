using FluentValidation;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Auth.Commands;

public sealed class RegisterUserValidator : AbstractValidator<RegisterUser>
{
    public const int MinPasswordLength = 8;
    public const int MaxPasswordLength = 256;

    public RegisterUserValidator()
    {
        RuleFor(x => x.Username)
            .Must(Username.IsValid)
            .OverridePropertyName("username")
            .WithMessage($"A username is {Username.MinLength}–{Username.MaxLength} characters of letters, digits, '_', '.' or '-'.");
        RuleFor(x => x.Password)
            .NotEmpty().OverridePropertyName("password").WithMessage("A password is required.")
            .Length(MinPasswordLength, MaxPasswordLength).OverridePropertyName("password")
            .WithMessage($"A password is {MinPasswordLength}–{MaxPasswordLength} characters.");
    }
}
