using FluentValidation;

namespace MeatLizard.Application.Search.Queries;

public sealed class SearchChatsValidator : AbstractValidator<SearchChats>
{
    public SearchChatsValidator()
    {
        RuleFor(x => x.Q).Must(q => !string.IsNullOrWhiteSpace(q)).OverridePropertyName("q")
            .WithMessage("q, the text to search for, is required.");
        RuleFor(x => x.Q).Must(q => q is null || q.Length <= SearchChats.MaxQueryLength).OverridePropertyName("q")
            .WithMessage($"q is at most {SearchChats.MaxQueryLength} characters.");
        RuleFor(x => x.Limit).InclusiveBetween(1, SearchChats.MaxLimit).OverridePropertyName("limit")
            .WithMessage($"limit is between 1 and {SearchChats.MaxLimit}.");
        RuleFor(x => x.Cursor).Must(c => SearchChats.Offset(c) is not null).OverridePropertyName("cursor")
            .WithMessage("cursor is not one a search gave: pass nextCursor as it came.");
    }
}
