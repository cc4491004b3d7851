using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>
/// The <c>doctor</c> verb of every host: runs each configured dependency's check with the host's own configuration,
/// prints one line per check and exits 1 when any failed. A check that takes longer than <see cref="CheckTimeout"/>
/// fails as unreachable.
/// </summary>
public static class DoctorCommandLine
{
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// <c>doctor</c> first; what follows are the host's usual <c>--Section:Key=value</c> settings, which the host's
    /// configuration reads, so the check sees exactly what a start with the same arguments would use.
    /// </summary>
    public static bool IsDoctorVerb(string[] args) => Backup.BackupCommandLine.Verb(args) is ["doctor", ..];

    public static async Task<int> RunAsync(IServiceProvider services, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var failed = false;
        foreach (var check in services.GetServices<IDoctorCheck>())
        {
            foreach (var result in await RunOneAsync(check))
            {
                failed |= !result.Ok;
                await output.WriteLineAsync(result.ToString());
            }
        }

        return failed ? 1 : 0;
    }

    private static async Task<IReadOnlyList<DoctorResult>> RunOneAsync(IDoctorCheck check)
    {
        using var timeout = new CancellationTokenSource(CheckTimeout);
        try
        {
            return await check.RunAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return [DoctorResult.Fail(NameOf(check), $"no answer within {CheckTimeout.TotalSeconds:0} s",
                "check that the server is up and reachable from this machine")];
        }
    }

    private static string NameOf(IDoctorCheck check) =>
        check.GetType().Name.Replace("DoctorCheck", "", StringComparison.Ordinal).ToLowerInvariant();
}
