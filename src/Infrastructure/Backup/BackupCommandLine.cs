using MeatLizard.Application.Backups;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Backup;

/// <summary>
/// The host's maintenance verbs, run instead of serving:
/// <c>backup</c> (make one now), <c>backups</c> (list them), <c>restore KEY</c> (bring the configured database back to
/// that backup). They use the same configuration as the host, so they act on the database and object store it uses.
/// </summary>
public static class BackupCommandLine
{
    public static bool IsBackupVerb(string[] args) =>
        Verb(args) is ["backup"] or ["backups"] or ["restore", ..];

    /// <summary>The words of a command line without its <c>--Key=value</c> settings, which may come before or after them.</summary>
    public static string[] Verb(string[] args) =>
        args.Where(arg => !(arg.StartsWith("--", StringComparison.Ordinal) && arg.Contains('=', StringComparison.Ordinal))).ToArray();

    /// <summary>Runs the verb; returns the process exit code (1 with one line on <paramref name="error"/> when it fails).</summary>
    public static async Task<int> RunAsync(string[] args, IServiceProvider services, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var verb = Verb(args);
        try
        {
            return await RunVerbAsync(verb, services.GetRequiredService<IDatabaseBackups>(), output);
        }
        catch (Exception ex) when (ex is InvalidDataException or InvalidOperationException or IOException
                                       or Npgsql.NpgsqlException or Microsoft.Data.Sqlite.SqliteException)
        {
            await error.WriteLineAsync($"{verb[0]} failed: {ex.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }

    private static async Task<int> RunVerbAsync(string[] args, IDatabaseBackups backups, TextWriter output)
    {
        switch (args)
        {
            case ["backup"]:
                var made = await backups.CreateAsync(CancellationToken.None);
                await output.WriteLineAsync($"{made.Key} {made.SizeBytes} bytes sha256 {made.Sha256}");
                return 0;
            case ["backups"]:
                foreach (var backup in await backups.ListAsync(CancellationToken.None))
                {
                    await output.WriteLineAsync($"{backup.Key} {backup.CreatedAt:O} sha256 {backup.Sha256}");
                }

                return 0;
            case ["restore", var key]:
                await backups.RestoreAsync(key, CancellationToken.None);
                await output.WriteLineAsync($"Restored {key}.");
                return 0;
            default:
                await output.WriteLineAsync("usage: backup | backups | restore BACKUP_KEY");
                return 2;
        }
    }
}
