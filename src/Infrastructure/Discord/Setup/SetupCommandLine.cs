namespace MeatLizard.Infrastructure.Discord.Setup;

/// <summary>
/// The server bot's <c>setup</c> verb on the command line: <c>setup [--config-out &lt;file&gt;] [--Section:Key=value …]</c>.
/// The settings after it are the host's usual ones, read by its configuration; <c>--config-out</c> names the JSON file
/// the ids are written into (by default the host's <c>appsettings.{Environment}.json</c>, which it loads at start).
/// </summary>
public static class SetupCommandLine
{
    public const string ConfigOut = "--config-out";

    public static bool IsSetupVerb(string[] args) => args is ["setup", ..];

    /// <summary>The file named by <c>--config-out</c> (null when not given) and the arguments left for the configuration.</summary>
    public static (string? ConfigOut, string[] Settings) Parse(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? path = null;
        var settings = new List<string>();
        for (var i = IsSetupVerb(args) ? 1 : 0; i < args.Length; i++)
        {
            if (args[i] == ConfigOut)
            {
                path = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                    ? args[++i]
                    : throw new ConfigurationException($"{ConfigOut} needs a file name (e.g. {ConfigOut} appsettings.Production.json).");
            }
            else if (args[i].StartsWith(ConfigOut + "=", StringComparison.Ordinal))
            {
                path = args[i][(ConfigOut.Length + 1)..];
                if (path.Length == 0)
                {
                    throw new ConfigurationException($"{ConfigOut} needs a file name (e.g. {ConfigOut}=appsettings.Production.json).");
                }
            }
            else
            {
                settings.Add(args[i]);
            }
        }

        return (path, [.. settings]);
    }
}
