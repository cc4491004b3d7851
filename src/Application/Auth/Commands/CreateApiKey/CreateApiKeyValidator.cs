using FluentValidation;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth.Commands;

public sealed class CreateApiKeyValidator : AbstractValidator<CreateApiKey>
{
    public CreateApiKeyValidator() =>
        RuleFor(x => x.Name).NotEmpty().MaximumLength(ApiKey.MaxNameLength).OverridePropertyName("name")
            .WithMessage($"A key name is 1–{ApiKey.MaxNameLength} characters.");
}
