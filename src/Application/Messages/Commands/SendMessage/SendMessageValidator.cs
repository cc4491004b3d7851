using FluentValidation;

namespace MeatLizard.Application.Messages.Commands;

public sealed class SendMessageValidator : AbstractValidator<SendMessage>
{
    // Length is checked by the domain (413 rather than 400); here only what makes the request malformed.
    public SendMessageValidator() =>
        RuleFor(x => x.Content).NotEmpty().OverridePropertyName("content").WithMessage("A message needs some text.");
}
