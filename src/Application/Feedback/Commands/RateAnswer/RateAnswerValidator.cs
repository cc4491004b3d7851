using FluentValidation;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Feedback.Commands;

public sealed class RateAnswerValidator : AbstractValidator<RateAnswer>
{
    public RateAnswerValidator()
    {
        RuleFor(x => x.Rating).Must(r => r is Ratings.Up or Ratings.Down).OverridePropertyName("rating")
            .WithMessage("rating is up or down.");
        RuleFor(x => x.Comment).Must(c => c is null || c.Length <= Ratings.MaxComment).OverridePropertyName("comment")
            .WithMessage($"comment is at most {Ratings.MaxComment} characters.");
        RuleFor(x => x.Comment).Must(c => c is null || StorableText.IsStorable(c)).OverridePropertyName("comment")
            .WithMessage("comment holds no control character (only tab, newline and carriage return) and no broken character.");
    }
}
