using FluentValidation;

namespace MeatLizard.Application.Admin.Queries;

public sealed class ListEveryonesChatsValidator : AbstractValidator<ListEveryonesChats>
{
    public ListEveryonesChatsValidator() =>
        RuleFor(c => c.Username).Must(Domain.Common.Username.IsValidOrChannelMember!).When(c => c.Username is not null)
            .WithMessage("Give a MeatLizard username (3–32 letters, digits, '_', '.' or '-').");
}
