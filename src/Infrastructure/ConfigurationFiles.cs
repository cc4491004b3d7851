namespace MeatLizard.Infrastructure;

/// <summary>
/// How a host notices an edited <c>appsettings*.json</c> (rate limits and the fallback are read through options that
/// reload): by looking at those files every 4 seconds instead of with .NET's default watcher. That watcher is a
/// FileSystemWatcher over the host's whole content-root tree, so when the data folder lies under it — the published
/// app started in its own folder with the default <c>Data:Root</c> (<c>./data</c>) — every SQLite write wakes it. Such a
/// watcher over the folder of the database cost 10 % of the process's CPU samples at 300 <c>/v1</c> completions a second
/// (perf, bench/OpenAi part 2 run from <c>/tmp</c>, where its fake upstream watched the bench's data that way). Polling
/// looks at the watched files only. An operator's <c>DOTNET_USE_POLLING_FILE_WATCHER</c> wins.
/// </summary>
public static class ConfigurationFiles
{
    /// <summary>The variable .NET's physical file provider reads when it makes its watcher.</summary>
    public const string PollingVariable = "DOTNET_USE_POLLING_FILE_WATCHER";

    /// <summary>
    /// Has the host's configuration files polled unless the operator chose; true when it did. Called first thing in a
    /// process, before a host builder makes its content-root file provider.
    /// </summary>
    public static bool PollForChanges()
    {
        if (Environment.GetEnvironmentVariable(PollingVariable) is { Length: > 0 })
        {
            return false;
        }

        Environment.SetEnvironmentVariable(PollingVariable, "true");
        return true;
    }
}
