using FluentValidation;

namespace MeatLizard.Application.Messages.Queries;

public sealed class GetMessagesValidator : AbstractValidator<GetMessages>
{
    public GetMessagesValidator() =>
        RuleFor(x => x.Limit).InclusiveBetween(1, GetMessages.MaxLimit).OverridePropertyName("limit")
            .WithMessage($"limit is between 1 and {GetMessages.MaxLimit}.");
}
