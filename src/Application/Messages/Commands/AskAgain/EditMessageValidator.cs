using FluentValidation;

namespace MeatLizard.Application.Messages.Commands;

public sealed class EditMessageValidator : AbstractValidator<EditMessage>
{
    public EditMessageValidator() =>
        RuleFor(x => x.Content).NotEmpty().OverridePropertyName("content").WithMessage("A message needs some text.");
}
