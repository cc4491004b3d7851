using FluentValidation;

namespace MeatLizard.Application.Admin.Commands;

public sealed class CloseSessionAsAdminValidator : AbstractValidator<CloseSessionAsAdmin>
{
    public CloseSessionAsAdminValidator() =>
        RuleFor(c => c.SessionId).NotEqual(Guid.Empty).WithMessage("Give the chat's id (a GUID, as /sessions lists it).");
}
