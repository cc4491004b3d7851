using FluentValidation;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Auth.Commands;

public sealed class RegisterUserValidator : AbstractValidator<RegisterUser>
{
    public const int MinPasswordLength = 8;
    public const int MaxPasswordLength = 256;

    /// <summary>The codes are 43 characters; anything far longer is not one.</summary>
    public const int MaxCodeLength = 100;

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
        RuleFor(x => x.InviteCode).MaximumLength(MaxCodeLength).OverridePropertyName("inviteCode")
            .WithMessage("This invite code is not valid.");
        RuleFor(x => x.SetupToken).MaximumLength(MaxCodeLength).OverridePropertyName("setupToken")
            .WithMessage("This setup token is not valid.");
    }
}
