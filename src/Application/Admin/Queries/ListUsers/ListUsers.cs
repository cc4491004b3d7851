using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// The accounts (password users): all of them, or with <paramref name="AwaitingApproval"/> only those waiting for
/// approval (true) or only those not waiting (false); with <paramref name="Search"/>, only those whose username contains
/// it (any case).
/// </summary>
public sealed record ListUsers(AdminActor Actor, bool? AwaitingApproval = null, string? Search = null)
    : AdminCommand<IReadOnlyList<AdminUserDto>>(Actor)
{
    public const int Max = 500;

    public const int MaxSearchLength = 32;

    public override string AuditName => "users";

    public override string? AuditArguments =>
        string.Join(' ', new[]
            {
                AwaitingApproval switch { true => "awaiting=true", false => "awaiting=false", null => null },
                Search is { Length: > 0 } s ? $"search={s}" : null,
            }.Where(a => a is not null)) is { Length: > 0 } text ? text : null;
}

public sealed class ListUsersValidator : AbstractValidator<ListUsers>
{
    public ListUsersValidator() =>
        RuleFor(c => c.Search).MaximumLength(ListUsers.MaxSearchLength).OverridePropertyName("search")
            .WithMessage($"A search is at most {ListUsers.MaxSearchLength} characters (a username's length).");
}

public sealed class ListUsersHandler(IAdminReadModel reads) : IRequestHandler<ListUsers, IReadOnlyList<AdminUserDto>>
{
    public Task<IReadOnlyList<AdminUserDto>> Handle(ListUsers request, CancellationToken cancellationToken) =>
        reads.ListUsersAsync(request.AwaitingApproval, ListUsers.Max, cancellationToken,
            string.IsNullOrWhiteSpace(request.Search) ? null : request.Search.Trim());
}

/// <summary>A user's status as the API writes it.</summary>
public static class AdminUserStatus
{
    public static string Name(UserStatus status) => status switch
    {
        UserStatus.AwaitingApproval => "awaitingApproval",
        _ => status.ToString().ToLowerInvariant(),
    };
}
