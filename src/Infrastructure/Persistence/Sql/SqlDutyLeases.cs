using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>The duties' leases (table <c>duty_leases</c>), on either database: one conditional upsert each.</summary>
internal sealed class SqlDutyLeases(IDatabaseSession session) : IDutyLeases
{
    /// <summary>Taken when free, lapsed or already the holder's; another holder's running lease is left as it is.</summary>
    private const string Hold = """
        INSERT INTO duty_leases (duty, holder, held_until) VALUES (@Duty, @Holder, @Until)
        ON CONFLICT (duty) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
        WHERE duty_leases.holder = excluded.holder OR duty_leases.held_until <= @Now
        """;

    private const string HolderOf = "SELECT holder FROM duty_leases WHERE duty = @Duty";

    private const string TakeOver =
        "UPDATE duty_leases SET holder = @Holder, held_until = @Until WHERE duty = @Duty AND holder = @From";

    private const string Release = "DELETE FROM duty_leases WHERE duty = @Duty AND holder = @Holder";

    // substr, not LIKE: a duty's name may hold '_' or '%'. Both databases have substr and length.
    private const string Holders = """
        SELECT holder FROM duty_leases
        WHERE substr(duty, 1, length(@Prefix)) = @Prefix AND held_until > @Now
        ORDER BY holder
        """;

    private const string Lapsed = """
        SELECT holder FROM duty_leases
        WHERE substr(duty, 1, length(@Prefix)) = @Prefix AND held_until <= @Now
        ORDER BY holder
        """;

    private const string Purge = "DELETE FROM duty_leases WHERE held_until < @Before";

    public async Task<bool> TryHoldAsync(string duty, string holder, DateTimeOffset now, DateTimeOffset until,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(duty);
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        return await session.ExecuteAsync(Hold, new { Duty = duty, Holder = holder, Now = now, Until = until },
            cancellationToken) == 1;
    }

    public Task<string?> HolderOfAsync(string duty, CancellationToken cancellationToken) =>
        session.QuerySingleOrDefaultAsync<string>(HolderOf, new { Duty = duty }, cancellationToken);

    public async Task<bool> TakeOverAsync(string duty, string from, string holder, DateTimeOffset until,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        return await session.ExecuteAsync(TakeOver, new { Duty = duty, From = from, Holder = holder, Until = until },
            cancellationToken) == 1;
    }

    public Task ReleaseAsync(string duty, string holder, CancellationToken cancellationToken) =>
        session.ExecuteAsync(Release, new { Duty = duty, Holder = holder }, cancellationToken);

    public async Task<IReadOnlyList<string>> ListHoldersAsync(string prefix, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        return [.. await session.QueryAsync<string>(Holders, new { Prefix = prefix, Now = now }, cancellationToken)];
    }

    public async Task<IReadOnlyList<string>> ListLapsedHoldersAsync(string prefix, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        return [.. await session.QueryAsync<string>(Lapsed, new { Prefix = prefix, Now = now }, cancellationToken)];
    }

    public Task<int> PurgeLapsedAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
        session.ExecuteAsync(Purge, new { Before = before }, cancellationToken);
}
