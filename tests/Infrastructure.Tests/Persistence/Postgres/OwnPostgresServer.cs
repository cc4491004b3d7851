using System.Diagnostics;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>
/// A PostgreSQL server of the test's own, started by the same script ./test.sh uses
/// (scripts/test-services/postgres.sh, with a state folder of its own), so a test can restart it without cutting the
/// connections of the tests that run meanwhile on the shared server. Stopped and deleted on dispose.
/// </summary>
public sealed class OwnPostgresServer : IAsyncDisposable
{
    private readonly string _script;
    private readonly string _state;

    private OwnPostgresServer(string script, string state, string connectionString)
    {
        _script = script;
        _state = state;
        ConnectionString = connectionString;
    }

    /// <summary>The server's maintenance database (like MEATLIZARD_TEST_POSTGRES).</summary>
    public string ConnectionString { get; }

    public static async Task<OwnPostgresServer> StartAsync()
    {
        var script = FindScript();
        var state = Directory.CreateTempSubdirectory("meatlizard-pg-").FullName;
        var output = await RunAsync(script, "start", state);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("MEATLIZARD_TEST_POSTGRES=", StringComparison.Ordinal));
        if (line is null)
        {
            await RunAsync(script, "stop", state);
            Assert.Fail($"postgres.sh start printed no MEATLIZARD_TEST_POSTGRES line: {output}");
        }

        return new OwnPostgresServer(script, state, line!["MEATLIZARD_TEST_POSTGRES=".Length..].Trim('\'', '\r'));
    }

    /// <summary>Stops the server (fast mode: every connection is cut) and starts it again on the same port.</summary>
    public Task RestartAsync() => RunAsync(_script, "restart", _state);

    public async ValueTask DisposeAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        await RunAsync(_script, "stop", _state);
        try
        {
            Directory.Delete(_state, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string FindScript()
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
        {
            var script = Path.Combine(directory.FullName, "scripts", "test-services", "postgres.sh");
            if (File.Exists(script))
            {
                return script;
            }
        }

        Assert.Fail("scripts/test-services/postgres.sh was not found above the test folder.");
        return null!;
    }

    private static async Task<string> RunAsync(string script, string command, string state)
    {
        using var process = Process.Start(new ProcessStartInfo("bash", [script, command, state])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.That(process.ExitCode, Is.Zero, $"postgres.sh {command} failed: {await errors}");
        return await output;
    }
}
