namespace MeatLizard.Infrastructure.Discord.Setup;

/// <summary>
/// The server bot's <c>setup</c> verb on the command line: <c>setup [--config-out &lt;file&gt;] [--admin USER]
/// [--Section:Key=value …]</c>. The settings after it are the host's usual ones, read by its configuration;
/// <c>--config-out</c> names the JSON file the ids are written into (by default the host's
/// <c>appsettings.{Environment}.json</c>, which it loads at start); <c>--admin</c> names the web account to make an
/// admin (a username or id).
/// </summary>
public static class SetupCommandLine
{
    public const string ConfigOut = "--config-out";

    public const string Admin = "--admin";

    public static bool IsSetupVerb(string[] args) => args is ["setup", ..];

    /// <summary>What <c>--config-out</c> and <c>--admin</c> name (null when not given), and the arguments left for the configuration.</summary>
    public static SetupArguments Parse(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? path = null;
        string? admin = null;
        var settings = new List<string>();
        for (var i = IsSetupVerb(args) ? 1 : 0; i < args.Length; i++)
        {
            if (Value(args, ref i, ConfigOut, "appsettings.Production.json") is { } file)
            {
                path = file;
            }
            else if (Value(args, ref i, Admin, "alice") is { } user)
            {
                admin = user;
            }
            else
            {
                settings.Add(args[i]);
            }
        }

        return new SetupArguments(path, admin, [.. settings]);
    }

    /// <summary>The value of <paramref name="option"/> at <paramref name="i"/> (<c>--option value</c> or <c>--option=value</c>); null when another argument is there.</summary>
    private static string? Value(string[] args, ref int i, string option, string example)
    {
        if (args[i] == option)
        {
            return i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                ? args[++i]
                : throw new ConfigurationException($"{option} needs a {Needs(option)} (e.g. {option} {example}).");
        }

        if (!args[i].StartsWith(option + "=", StringComparison.Ordinal))
        {
            return null;
        }

        var value = args[i][(option.Length + 1)..];
        return value.Length > 0
            ? value
            : throw new ConfigurationException($"{option} needs a {Needs(option)} (e.g. {option}={example}).");
    }

    private static string Needs(string option) => option == Admin ? "web account's username" : "file name";
}

/// <param name="ConfigOut">The settings file to write, or null for the host's <c>appsettings.{Environment}.json</c>.</param>
/// <param name="Admin">The web account <c>--admin</c> names (a username or id), or null.</param>
/// <param name="Settings">The arguments left for the host's configuration.</param>
public sealed record SetupArguments(string? ConfigOut, string? Admin, string[] Settings);
