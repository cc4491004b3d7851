using FluentValidation;

namespace MeatLizard.Application.Feedback.Commands;

public sealed class WithdrawRatingValidator : AbstractValidator<WithdrawRating>
{
    public WithdrawRatingValidator()
    {
        RuleFor(x => x.Rating).Must(r => r is null or Ratings.Up or Ratings.Down).OverridePropertyName("rating")
            .WithMessage("rating is up, down or left out.");
    }
}
