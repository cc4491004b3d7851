using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>Checks ConnectionStrings:Postgres at start-up, so a bad value stops the host with one line naming the key.</summary>
public static class PostgresConnectionSettings
{
    public const string Key = "ConnectionStrings:Postgres";

    /// <summary>Returns the connection string when it can be used; the messages never repeat its value (it holds a password).</summary>
    public static string Check(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ConfigurationException(
                $"{Key} is required when Storage:Provider is Postgres (e.g. Host=db;Port=5432;Database=meatlizard;Username=meatlizard;Password=...).");
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            throw new ConfigurationException($"{Key} is not a valid Npgsql connection string: {Describe(ex)}");
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw new ConfigurationException($"{Key} names no Host.");
        }

        return connectionString;
    }

    // The keyword errors of the builder name the keyword only; others may quote the value, so they are not repeated.
    private static string Describe(Exception ex) =>
        ex.Message.StartsWith("Keyword not supported", StringComparison.Ordinal)
            ? ex.Message.ReplaceLineEndings(" ")
            : "a value has the wrong form or type.";
}
