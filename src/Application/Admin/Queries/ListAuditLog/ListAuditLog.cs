using System.Globalization;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// A page of the audit log, newest first: rows older than <paramref name="Before"/> (the previous page's
/// <see cref="AuditPageDto.NextBefore"/>), whose actor contains <paramref name="ActorContains"/>, of one
/// <paramref name="Command"/>.
/// </summary>
public sealed record ListAuditLog(AdminActor Actor, long? Before, int? Limit, string? ActorContains, string? Command)
    : AdminCommand<AuditPageDto>(Actor)
{
    public const int DefaultLimit = 50;

    public const int MaxLimit = 200;

    public const int MaxFilterLength = 100;

    public override string AuditName => "audit";

    public override string? AuditArguments =>
        string.Join(' ', new[]
        {
            Before is { } before ? "before=" + before.ToString(CultureInfo.InvariantCulture) : null,
            ActorContains is { Length: > 0 } actor ? $"actor={actor}" : null,
            Command is { Length: > 0 } command ? $"command={command}" : null,
        }.Where(a => a is not null)) is { Length: > 0 } text ? text : null;
}

/// <summary>One page; <paramref name="NextBefore"/> reads the next (older) one, null when this is the last.</summary>
public sealed record AuditPageDto(IReadOnlyList<AuditRowDto> Entries, long? NextBefore);

public sealed class ListAuditLogHandler(IAdminConsoleReads reads) : IRequestHandler<ListAuditLog, AuditPageDto>
{
    public async Task<AuditPageDto> Handle(ListAuditLog request, CancellationToken cancellationToken)
    {
        var limit = request.Limit ?? ListAuditLog.DefaultLimit;
        // One more than asked says whether an older page exists.
        var rows = await reads.ListAuditAsync(new AuditFilter(request.Before, limit + 1,
            Blank(request.ActorContains), Blank(request.Command)), cancellationToken);
        var page = rows.Take(limit).ToArray();
        return new AuditPageDto(page, rows.Count > limit ? page[^1].Id : null);
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}

public sealed class ListAuditLogValidator : AbstractValidator<ListAuditLog>
{
    public ListAuditLogValidator()
    {
        RuleFor(c => c.Limit).InclusiveBetween(1, ListAuditLog.MaxLimit).When(c => c.Limit is not null)
            .OverridePropertyName("limit").WithMessage($"A page holds 1 to {ListAuditLog.MaxLimit} rows.");
        RuleFor(c => c.Before).GreaterThan(0).When(c => c.Before is not null)
            .OverridePropertyName("before").WithMessage("'before' is a row id from the previous page.");
        RuleFor(c => c.ActorContains).MaximumLength(ListAuditLog.MaxFilterLength)
            .OverridePropertyName("actor").WithMessage($"The actor filter is at most {ListAuditLog.MaxFilterLength} characters.");
        RuleFor(c => c.Command).MaximumLength(ListAuditLog.MaxFilterLength)
            .OverridePropertyName("command").WithMessage($"The command filter is at most {ListAuditLog.MaxFilterLength} characters.");
    }
}
