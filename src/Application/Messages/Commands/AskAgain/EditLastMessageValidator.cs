using FluentValidation;

namespace MeatLizard.Application.Messages.Commands;

public sealed class EditLastMessageValidator : AbstractValidator<EditLastMessage>
{
    public EditLastMessageValidator() =>
        RuleFor(x => x.Content).NotEmpty().OverridePropertyName("content").WithMessage("A message needs some text.");
}
