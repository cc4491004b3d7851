namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// How values cross to PostgreSQL: Guids as uuid (Dapper binds them as is), instants as timestamptz — written as UTC
/// <see cref="DateTimeOffset"/> (Npgsql accepts only offset zero) and read as UTC <see cref="DateTime"/> — and enums as
/// lower-case text, spelled as in the SQLite store (<see cref="SqlValues"/>).
/// </summary>
internal static class PgValues
{
    public static DateTimeOffset Instant(DateTimeOffset value) => value.ToUniversalTime();

    public static DateTimeOffset? Instant(DateTimeOffset? value) => value?.ToUniversalTime();

    public static DateTimeOffset ToInstant(DateTime value) =>
        new(DateTime.SpecifyKind(value, DateTimeKind.Utc), TimeSpan.Zero);

    public static DateTimeOffset? ToInstant(DateTime? value) => value is { } v ? ToInstant(v) : null;
}
