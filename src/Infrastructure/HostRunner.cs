using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure;

/// <summary>
/// Runs a host so that a bad configuration stops it with one line naming the key and exit code 2, instead of a stack
/// trace. It first limits the C library's heap arenas (<see cref="NativeHeap"/>) and has the configuration files polled
/// rather than the content-root tree watched (<see cref="ConfigurationFiles"/>): every host starts here.
/// </summary>
public static class HostRunner
{
    public const int ConfigurationErrorExitCode = 2;

    public static async Task<int> RunAsync(Func<Task> run, TextWriter? error = null)
    {
        error ??= Console.Error;
        NativeHeap.LimitArenas();
        ConfigurationFiles.PollForChanges();
        try
        {
            await run();
            return 0;
        }
        catch (Exception ex) when (Describe(ex) is { } line)
        {
            await error.WriteLineAsync($"Configuration error: {line}");
            return ConfigurationErrorExitCode;
        }
    }

    /// <summary>
    /// Checks the options every host checks at start (<c>ValidateOnStart</c>) now, before anything runs: a bad value
    /// then stops the host through <see cref="RunAsync"/> with its one line, before the host's own start would log it
    /// with a stack trace, and before the database is migrated.
    /// </summary>
    public static void CheckConfiguration(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.GetService<IStartupValidator>()?.Validate();
    }

    /// <summary>The one-line description of a configuration failure, or null when it is not one.</summary>
    public static string? Describe(Exception exception) => exception switch
    {
        ConfigurationException configuration => configuration.Message,
        OptionsValidationException validation => string.Join(" ", validation.Failures),
        InvalidOperationException { Message: var m } when m.StartsWith("Failed to convert configuration value", StringComparison.Ordinal)
            => m.Split('\n')[0].Trim(),
        AggregateException { InnerExceptions.Count: 1 } aggregate => Describe(aggregate.InnerExceptions[0]),
        _ when exception.InnerException is { } inner => Describe(inner),
        _ => null,
    };
}
