using FluentValidation;

namespace MeatLizard.Application.Auth.Commands;

public sealed class LogInValidator : AbstractValidator<LogIn>
{
    public LogInValidator()
    {
        RuleFor(x => x.Username).NotEmpty().OverridePropertyName("username").WithMessage("A username is required.");
        RuleFor(x => x.Password).NotEmpty().OverridePropertyName("password").WithMessage("A password is required.");
    }
}
