using System.Diagnostics;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace MeatLizard.Infrastructure.Backup;

/// <summary>Writes the whole database to a file and reads it back; one per storage provider.</summary>
internal interface IDatabaseDump
{
    /// <summary>"postgres" or "sqlite": the folder of its backups in the object store.</summary>
    string Provider { get; }

    /// <summary>The backup file's extension, without the dot.</summary>
    string Extension { get; }

    Task DumpAsync(string file, CancellationToken cancellationToken);

    Task RestoreAsync(string file, CancellationToken cancellationToken);
}

/// <summary>
/// pg_dump in its custom format (compressed, restorable table by table) and pg_restore. The connection settings go to
/// the tools as PG* environment variables, so the password never appears on a command line.
/// </summary>
internal sealed class PostgresDump(string connectionString, string? binDir) : IDatabaseDump
{
    public string Provider => "postgres";

    public string Extension => "dump";

    public Task DumpAsync(string file, CancellationToken cancellationToken) =>
        RunAsync("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--file", file], cancellationToken);

    /// <summary>
    /// Into a fresh (empty) database or over an existing one: --clean --if-exists drops what the backup holds first,
    /// and --single-transaction makes a failed restore leave the database as it was.
    /// </summary>
    public Task RestoreAsync(string file, CancellationToken cancellationToken) =>
        RunAsync("pg_restore", ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
            "--exit-on-error", "--dbname", Database(), file], cancellationToken);

    private string Database() => new NpgsqlConnectionStringBuilder(connectionString).Database ?? "postgres";

    private async Task RunAsync(string tool, string[] arguments, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo(ToolPath(tool, binDir))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PGHOST"] = builder.Host;
        start.Environment["PGPORT"] = builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["PGDATABASE"] = builder.Database;
        start.Environment["PGUSER"] = builder.Username;
        start.Environment["PGPASSWORD"] = builder.Password;
        start.Environment["PGSSLMODE"] = builder.SslMode switch
        {
            SslMode.Disable => "disable",
            SslMode.Require => "require",
            SslMode.VerifyCA => "verify-ca",
            SslMode.VerifyFull => "verify-full",
            _ => "prefer",
        };

        using var process = Process.Start(start)
            ?? throw new InvalidOperationException($"{tool} could not be started.");
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed (exit code {process.ExitCode}): {(await errors).Trim()}");
        }
    }

    /// <summary>Backup:PgBinDir, else the tool on PATH, else the newest /usr/lib/postgresql/*/bin (Debian's layout).</summary>
    internal static string ToolPath(string tool, string? binDir)
    {
        if (!string.IsNullOrWhiteSpace(binDir))
        {
            return Path.Combine(binDir, tool);
        }

        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
        if (onPath is not null)
        {
            return onPath;
        }

        const string debian = "/usr/lib/postgresql";
        var newest = Directory.Exists(debian)
            ? Directory.GetDirectories(debian)
                .Select(dir => (Dir: dir, Version: decimal.TryParse(Path.GetFileName(dir),
                    System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Dir, "bin", tool))
                .FirstOrDefault(File.Exists)
            : null;
        return newest ?? throw new InvalidOperationException(
            $"{tool} was not found (set Backup:PgBinDir, or install the postgresql-client package).");
    }
}

/// <summary>
/// SQLite's online backup API: a consistent copy page by page while the database stays in use, in both directions.
/// </summary>
internal sealed class SqliteDump(string connectionString) : IDatabaseDump
{
    public string Provider => "sqlite";

    public string Extension => "sqlite";

    public async Task DumpAsync(string file, CancellationToken cancellationToken)
    {
        await using var source = new SqliteConnection(connectionString);
        await source.OpenAsync(cancellationToken);
        await using var destination = new SqliteConnection(FileConnection(file, SqliteOpenMode.ReadWriteCreate));
        await destination.OpenAsync(cancellationToken);
        source.BackupDatabase(destination);
    }

    public async Task RestoreAsync(string file, CancellationToken cancellationToken)
    {
        var target = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (Path.GetDirectoryName(Path.GetFullPath(target)) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
        }

        await using var source = new SqliteConnection(FileConnection(file, SqliteOpenMode.ReadOnly));
        await source.OpenAsync(cancellationToken);
        await using var destination = new SqliteConnection(connectionString);
        await destination.OpenAsync(cancellationToken);
        source.BackupDatabase(destination);
        SqliteConnection.ClearAllPools();
    }

    private static string FileConnection(string file, SqliteOpenMode mode) =>
        new SqliteConnectionStringBuilder { DataSource = file, Mode = mode, Pooling = false }.ToString();
}

internal static class Sha256Hex
{
    public static async Task<string> OfFileAsync(string file, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(file);
        var hash = await System.Security.Cryptography.SHA256.HashDataAsync(stream, cancellationToken);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>The sidecar's text, in sha256sum's format, so <c>sha256sum -c</c> can check a downloaded backup too.</summary>
    public static string Line(string hex, string fileName) => new StringBuilder(hex).Append("  ").Append(fileName).Append('\n').ToString();
}
