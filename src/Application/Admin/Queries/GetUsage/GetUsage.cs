using System.Globalization;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// Each user's model work over the last <paramref name="Days"/> UTC days, today included (default
/// <see cref="DefaultDays"/>): chat (answers a model wrote) and embeddings (<c>/v1/embeddings</c>), requests and tokens,
/// the heaviest users first; of one user only with <paramref name="UserId"/>.
/// </summary>
public sealed record GetUsage(AdminActor Actor, int? Days, Guid? UserId = null) : AdminCommand<UsageReportDto>(Actor)
{
    public const int DefaultDays = 30;

    public const int MaxDays = 366;

    /// <summary>The most users a report lists (the heaviest).</summary>
    public const int MaxUsers = 500;

    public override string AuditName => "usage";

    public override string? AuditArguments =>
        string.Join(' ', new[]
        {
            Days is { } days ? "days=" + days.ToString(CultureInfo.InvariantCulture) : null,
            UserId is { } user ? $"user={user:D}" : null,
        }.Where(a => a is not null)) is { Length: > 0 } text ? text : null;
}

/// <summary>
/// A kind's figures: <paramref name="Requests"/> answered, <paramref name="Inputs"/> (texts embedded; 0 for chat), and
/// the tokens read (<paramref name="PromptTokens"/>) and written (<paramref name="CompletionTokens"/>; 0 for embeddings).
/// </summary>
public sealed record UsageTotalsDto(long Requests, long Inputs, long PromptTokens, long CompletionTokens)
{
    public static readonly UsageTotalsDto None = new(0, 0, 0, 0);

    public long TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>One user's usage: chat and embeddings.</summary>
public sealed record UserUsageDto(Guid UserId, string Username, UsageTotalsDto Chat, UsageTotalsDto Embeddings)
{
    public long TotalTokens => Chat.TotalTokens + Embeddings.TotalTokens;
}

/// <summary>
/// The users' usage over the days from <paramref name="From"/> (a UTC midnight) to <paramref name="To"/> (the next
/// midnight after today), heaviest first (by tokens, then requests); <paramref name="Truncated"/> when more users than
/// <see cref="GetUsage.MaxUsers"/> used anything.
/// </summary>
public sealed record UsageReportDto(
    DateTimeOffset From, DateTimeOffset To, int Days, IReadOnlyList<UserUsageDto> Users, bool Truncated);

public sealed class GetUsageHandler(IAdminConsoleReads reads, IClock clock) : IRequestHandler<GetUsage, UsageReportDto>
{
    public async Task<UsageReportDto> Handle(GetUsage request, CancellationToken cancellationToken)
    {
        var days = request.Days ?? GetUsage.DefaultDays;
        var to = new DateTimeOffset(clock.UtcNow.UtcDateTime.Date, TimeSpan.Zero).AddDays(1);
        var from = to.AddDays(-days);
        var rows = await reads.ListUsageAsync(from, to, request.UserId, cancellationToken);
        var users = rows.GroupBy(r => r.UserId)
            .Select(g => new UserUsageDto(g.Key, g.First().Username, Totals(g, UsageKinds.Chat), Totals(g, UsageKinds.Embeddings)))
            .OrderByDescending(u => u.TotalTokens)
            .ThenByDescending(u => u.Chat.Requests + u.Embeddings.Requests)
            .ThenBy(u => u.Username, StringComparer.Ordinal)
            .ToList();
        return new UsageReportDto(from, to, days, users.Take(GetUsage.MaxUsers).ToList(), users.Count > GetUsage.MaxUsers);
    }

    private static UsageTotalsDto Totals(IEnumerable<UserUsageRow> rows, string kind) =>
        rows.FirstOrDefault(r => r.Kind == kind) is { } row
            ? new UsageTotalsDto(row.Requests, row.Inputs, row.PromptTokens, row.CompletionTokens)
            : UsageTotalsDto.None;
}

public sealed class GetUsageValidator : AbstractValidator<GetUsage>
{
    public GetUsageValidator() =>
        RuleFor(c => c.Days).InclusiveBetween(1, GetUsage.MaxDays).When(c => c.Days is not null)
            .OverridePropertyName("days").WithMessage($"'days' is a whole number from 1 to {GetUsage.MaxDays}.");
}
