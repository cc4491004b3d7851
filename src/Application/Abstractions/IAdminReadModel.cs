using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>A chat as an admin lists it: with its owner's name and how many messages it holds.</summary>
public sealed record AdminSessionDto(
    Guid Id, string Title, string Status, Guid OwnerId, string OwnerName, int Messages, DateTimeOffset UpdatedAt);

/// <summary>
/// The request figures of a period (table <c>metrics</c>). Latency is from the message being queued to its answer;
/// tokens per second is completion tokens over generation time as the engine measured it (llama.cpp's own timings),
/// or over the worker's inference time for answers whose worker did not report them; errors are failed requests.
/// </summary>
public sealed record MetricsSummary(
    DateTimeOffset From,
    DateTimeOffset To,
    int Requests,
    int? P50LatencyMs,
    int? P95LatencyMs,
    double? TokensPerSecond,
    int Fallbacks,
    int Errors)
{
    /// <summary>Share of requests the fallback answered (0–1); null when there were none.</summary>
    public double? FallbackRate => Requests == 0 ? null : (double)Fallbacks / Requests;
}

/// <summary>An account as admins list it.</summary>
/// <param name="Status">active, banned or awaitingApproval.</param>
public sealed record AdminUserDto(Guid Id, string Username, string Role, string Status, DateTimeOffset CreatedAt);

/// <summary>Reads for admin commands, straight from SQL.</summary>
public interface IAdminReadModel
{
    /// <summary>
    /// Up to <paramref name="max"/> accounts of password users (chat network members are left out), newest first:
    /// every one when <paramref name="awaitingApproval"/> is null; only those awaiting approval, oldest first, when it
    /// is true; only those not awaiting it when false. Only those whose username contains <paramref name="search"/>
    /// (any case) when given.
    /// </summary>
    Task<IReadOnlyList<AdminUserDto>> ListUsersAsync(
        bool? awaitingApproval, int max, CancellationToken cancellationToken, string? search = null);

    /// <summary>Up to <paramref name="max"/> chats (of one owner, or everyone's), most recently updated first.</summary>
    Task<IReadOnlyList<AdminSessionDto>> ListSessionsAsync(UserId? ownerId, int max, CancellationToken cancellationToken);

    /// <summary>The figures of requests recorded in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    Task<MetricsSummary> GetMetricsSummaryAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);
}
