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

    // The builder's own message names the keyword ("Couldn't set port (Parameter 'port')"); the value it could not
    // use is only in the inner exception, which is not repeated.
    private static string Describe(Exception ex) =>
        ex is ArgumentException { Message: var message } ? message.ReplaceLineEndings(" ") : "a value has the wrong form or type.";
}
