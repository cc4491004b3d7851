using FluentValidation;

namespace MeatLizard.Application.Feedback.Commands;

public sealed class RateAnswerValidator : AbstractValidator<RateAnswer>
{
    public RateAnswerValidator()
    {
        RuleFor(x => x.Rating).Must(r => r is Ratings.Up or Ratings.Down).OverridePropertyName("rating")
            .WithMessage("rating is up or down.");
        RuleFor(x => x.Comment).Must(c => c is null || c.Length <= Ratings.MaxComment).OverridePropertyName("comment")
            .WithMessage($"comment is at most {Ratings.MaxComment} characters.");
    }
}
