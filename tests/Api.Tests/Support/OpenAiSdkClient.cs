using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// The official <c>openai</c> npm package as an outside client: one run of <c>tests/OpenAiClient/client.mjs</c> per
/// scenario, which prints what the SDK observed as one JSON line. The package is installed once (npm ci, from the lock
/// file) into a cache outside the repository (~/.cache/meatlizard, or MEATLIZARD_CACHE), with the scenario script
/// copied beside it: node_modules are never written into the working tree. Node and npm come from the machine
/// (./test.sh installs them).
/// </summary>
public static class OpenAiSdkClient
{
    private static readonly TimeSpan ScenarioTimeout = TimeSpan.FromMinutes(3);
    private static readonly SemaphoreSlim Once = new(1, 1);
    private static Installed? s_installed;

    /// <summary>
    /// Runs <paramref name="scenario"/> against the API at <paramref name="api"/> (its root; the SDK is pointed at
    /// <c>/v1</c>) with <paramref name="key"/>, and returns the line it printed. The key goes in the environment, not
    /// on the command line every local user can read.
    /// </summary>
    public static async Task<JsonElement> RunAsync(string scenario, Uri api, string key, int maxRetries = 0,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var client = await InstalledAsync();
        var start = new ProcessStartInfo("node", [client.Script, scenario])
        {
            WorkingDirectory = client.Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["OPENAI_BASE_URL"] = new Uri(api, "v1").ToString(),
                ["OPENAI_API_KEY"] = key,
                ["MODEL"] = "default",
                ["MAX_RETRIES"] = maxRetries.ToString(CultureInfo.InvariantCulture),
            },
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ScenarioTimeout);
        try
        {
            await node.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            Assert.Fail($"node client.mjs {scenario} did not end within {ScenarioTimeout}.");
        }

        Assert.That(node.ExitCode, Is.Zero, await errors);
        var lastLine = (await output).Trim().Split('\n')[^1];
        return JsonDocument.Parse(lastLine).RootElement.Clone();
    }

    private static async Task<Installed> InstalledAsync()
    {
        await Once.WaitAsync();
        try
        {
            return s_installed ??= await InstallAsync();
        }
        finally
        {
            Once.Release();
        }
    }

    /// <summary>
    /// The package in a directory named by the lock file's hash, installed in a directory of its own and moved into
    /// place, so test assemblies that run at the same time never see a half-done install; the script beside it named by
    /// its own hash (an edited script needs no new install), written the same way.
    /// </summary>
    private static async Task<Installed> InstallAsync()
    {
        var source = Path.Combine(RepositoryRoot(), "tests", "OpenAiClient");
        var cacheRoot = Environment.GetEnvironmentVariable("MEATLIZARD_CACHE") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "meatlizard");
        var lockFile = await File.ReadAllBytesAsync(Path.Combine(source, "package-lock.json"));
        var installed = Path.Combine(cacheRoot, "openai-client", Hash(lockFile));
        if (!File.Exists(Path.Combine(installed, "node_modules", "openai", "package.json")))
        {
            var staging = $"{installed}.{Guid.NewGuid():N}";
            Directory.CreateDirectory(staging);
            try
            {
                File.Copy(Path.Combine(source, "package.json"), Path.Combine(staging, "package.json"));
                File.Copy(Path.Combine(source, "package-lock.json"), Path.Combine(staging, "package-lock.json"));
                await NpmCiAsync(staging);
                try
                {
                    Directory.Move(staging, installed);
                }
                catch (IOException) when (Directory.Exists(installed))
                {
                    // Installed meanwhile by another test assembly: theirs is as good.
                }
            }
            finally
            {
                if (Directory.Exists(staging))
                {
                    Directory.Delete(staging, recursive: true);
                }
            }
        }

        var script = await File.ReadAllBytesAsync(Path.Combine(source, "client.mjs"));
        var name = $"client-{Hash(script)}.mjs";
        if (!File.Exists(Path.Combine(installed, name)))
        {
            var written = Path.Combine(installed, $"{name}.{Guid.NewGuid():N}");
            await File.WriteAllBytesAsync(written, script);
            File.Move(written, Path.Combine(installed, name), overwrite: true);
        }

        return new Installed(installed, name);
    }

    private static async Task NpmCiAsync(string directory)
    {
        // --prefer-offline: npm's own cache serves the package when it holds it; the registry only otherwise.
        var npm = new ProcessStartInfo("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var install = Process.Start(npm)!;
        var errors = install.StandardError.ReadToEndAsync();
        _ = install.StandardOutput.ReadToEndAsync();
        await install.WaitForExitAsync();
        if (install.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci of tests/OpenAiClient failed: {await errors}");
        }
    }

    private static string Hash(byte[] content) => Convert.ToHexString(SHA256.HashData(content))[..16].ToLowerInvariant();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MeatLizard.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("MeatLizard.sln not found above the test directory.");
    }

    /// <summary>The directory holding the installed package, and the scenario script's file name in it.</summary>
    private sealed record Installed(string Directory, string Script);
}
