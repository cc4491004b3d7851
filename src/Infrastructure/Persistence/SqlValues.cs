using System.Globalization;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// How values are stored: Guids as lower-case TEXT, instants as INTEGER unix milliseconds (UTC), enums as
/// lower-case TEXT (the spelling the API uses). Parameters are converted explicitly because Microsoft.Data.Sqlite
/// would bind a Guid as a BLOB.
/// </summary>
internal static class SqlValues
{
    public static string Text(Guid value) => value.ToString("D", CultureInfo.InvariantCulture);

    public static string? Text(Guid? value) => value is { } v ? Text(v) : null;

    public static Guid ToGuid(string value) => Guid.ParseExact(value, "D");

    /// <summary>
    /// Many ids as one parameter: a JSON array of their text, which a statement opens with <c>json_each(@Ids)</c>
    /// (SQLite has no array parameters, and one constant statement stays prepared whatever the count).
    /// </summary>
    public static string JsonArray(IEnumerable<Guid> values) =>
        System.Text.Json.JsonSerializer.Serialize(values.Select(Text));

    public static Guid? ToOptionalGuid(string? value) => value is null ? null : ToGuid(value);

    public static long Millis(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static long? Millis(DateTimeOffset? value) => value?.ToUnixTimeMilliseconds();

    public static DateTimeOffset ToInstant(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);

    public static DateTimeOffset? ToInstant(long? value) => value is { } v ? ToInstant(v) : null;

    public static string Lower<TEnum>(TEnum value)
        where TEnum : struct, Enum => LowerNames<TEnum>.Of(value);

    public static string? Lower<TEnum>(TEnum? value)
        where TEnum : struct, Enum => value is { } v ? Lower(v) : null;

    public static TEnum ToEnum<TEnum>(string value)
        where TEnum : struct, Enum => Enum.Parse<TEnum>(value, ignoreCase: true);

    public static TEnum? ToOptionalEnum<TEnum>(string? value)
        where TEnum : struct, Enum => value is null ? null : ToEnum<TEnum>(value);

    /// <summary>Each value's lower-case name, made once: rows are written with them all the time.</summary>
    private static class LowerNames<TEnum>
        where TEnum : struct, Enum
    {
        private static readonly Dictionary<TEnum, string> Names =
            Enum.GetValues<TEnum>().Distinct().ToDictionary(value => value, Name);

        public static string Of(TEnum value) => Names.TryGetValue(value, out var name) ? name : Name(value);

        private static string Name(TEnum value) => value.ToString().ToLowerInvariant();
    }
}
