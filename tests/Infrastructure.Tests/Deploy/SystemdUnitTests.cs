using NUnit.Framework;
using System.Diagnostics;
using MeatLizard.Infrastructure.Discord;

namespace MeatLizard.Infrastructure.Tests.Deploy;

/// <summary>
/// deploy/systemd: each unit passes <c>systemd-analyze verify</c> with nothing to say (it names unknown keys and bad
/// values on stderr but still exits 0, so any output fails), runs a host that exists as a dedicated user, restarts on
/// failure but not on a configuration error, and is hardened.
/// </summary>
[TestFixture]
public sealed class SystemdUnitTests
{
    private const string SystemdAnalyze = "/usr/bin/systemd-analyze";

    public static readonly string[] Units = ["meatlizard-api.service", "meatlizard-server-bot.service"];

    [TestCaseSource(nameof(Units))]
    public async Task Unit_PassesSystemdAnalyzeVerify_WithNoWarnings(string unit)
    {
        var (exitCode, output) = await VerifyAsync(DeployFiles.PathOf("systemd", unit));

        Assert.That((exitCode, output), Is.EqualTo((0, "")), $"systemd-analyze verify {unit}");
    }

    [Test]
    public async Task Verify_ReportsAMisspelledKey_SoTheCheckAboveCanFail()
    {
        var directory = Directory.CreateTempSubdirectory("ml-units-");
        try
        {
            var broken = Path.Combine(directory.FullName, "meatlizard-api.service");
            var text = await File.ReadAllTextAsync(DeployFiles.PathOf("systemd", "meatlizard-api.service"));
            await File.WriteAllTextAsync(broken, text.Replace("ProtectHome=true", "ProtectHom=true", StringComparison.Ordinal));

            var (_, output) = await VerifyAsync(broken);

            Assert.That(output, Does.Contain("Unknown key 'ProtectHom'"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [TestCase("meatlizard-api.service", "MeatLizard.Presentation.Api", "meatlizard-api")]
    [TestCase("meatlizard-server-bot.service", "MeatLizard.Presentation.DiscordServer", "meatlizard-bot")]
    public void Unit_StartsTheHostItNames_AsItsOwnUser(string unit, string assembly, string user)
    {
        var service = Read(unit);

        Assert.Multiple(() =>
        {
            Assert.That(service["ExecStart"].Single(), Does.StartWith("/usr/bin/dotnet ").And.EndWith($"/{assembly}.dll"));
            Assert.That(DeployFiles.HostProjectExists(assembly), Is.True, $"src has no project building {assembly}.dll");
            Assert.That(service["User"], Is.EqualTo(new[] { user }));
            Assert.That(service["Group"], Is.EqualTo(new[] { user }));
            Assert.That(service["EnvironmentFile"].Single(), Does.StartWith("/etc/meatlizard/"));
        });
    }

    [Test]
    public void TheTwoHosts_ShareNoUserNoSecretsFileAndNoDataFolder()
    {
        var (api, bot) = (Read("meatlizard-api.service"), Read("meatlizard-server-bot.service"));

        Assert.Multiple(() =>
        {
            foreach (var key in new[] { "User", "Group", "EnvironmentFile", "StateDirectory", "ReadWritePaths" })
            {
                Assert.That(api[key], Is.Not.EqualTo(bot[key]), key);
            }
        });
    }

    [TestCase("meatlizard-api.service", new[] { HostRunner.ConfigurationErrorExitCode })]
    [TestCase("meatlizard-server-bot.service", new[] { HostRunner.ConfigurationErrorExitCode, DiscordGatewayService.FatalExitCode })]
    public void Unit_RestartsOnFailure_ButNotOnErrorsARestartCannotFix(string unit, int[] fatalExitCodes)
    {
        var service = Read(unit);

        Assert.Multiple(() =>
        {
            Assert.That(service["Restart"], Is.EqualTo(new[] { "on-failure" }));
            Assert.That(service["RestartPreventExitStatus"].Single().Split(' '),
                Is.EquivalentTo(fatalExitCodes.Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        });
    }

    [TestCaseSource(nameof(Units))]
    public void Unit_IsHardened_AndWritesOnlyItsDataFolder(string unit)
    {
        var service = Read(unit);

        Assert.Multiple(() =>
        {
            foreach (var (key, value) in new[]
                     {
                         ("NoNewPrivileges", "true"), ("ProtectSystem", "strict"), ("ProtectHome", "true"),
                         ("PrivateTmp", "true"), ("PrivateDevices", "true"),
                     })
            {
                Assert.That(service.GetValueOrDefault(key), Is.EqualTo(new[] { value }), key);
            }

            // It writes its own folder only: the one systemd makes for it, where its data root is.
            var state = service["StateDirectory"].Single();
            Assert.That(state, Does.StartWith("meatlizard/"));
            Assert.That(service["ReadWritePaths"], Is.EqualTo(new[] { $"/var/lib/{state}" }));
            var dataRoot = service["Environment"].Single(e => e.StartsWith("Data__Root=", StringComparison.Ordinal));
            Assert.That(dataRoot, Is.EqualTo($"Data__Root=/var/lib/{state}"), "the data folder must be writable");
            // The JIT writes the code it runs; MemoryDenyWriteExecute=true would kill the host at start.
            Assert.That(service.GetValueOrDefault("MemoryDenyWriteExecute"), Is.Null.Or.EqualTo(new[] { "false" }));
        });
    }

    /// <summary>The [Service] section's keys and their values, in order (a key may repeat).</summary>
    private static Dictionary<string, string[]> Read(string unit)
    {
        var section = "";
        var pairs = new List<(string Key, string Value)>();
        foreach (var raw in File.ReadAllLines(DeployFiles.PathOf("systemd", unit)))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line.StartsWith('['))
            {
                section = line;
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (section == "[Service]" && equals > 0)
            {
                pairs.Add((line[..equals], line[(equals + 1)..]));
            }
        }

        return pairs.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Select(p => p.Value).ToArray());
    }

    private static async Task<(int ExitCode, string Output)> VerifyAsync(string unitPath)
    {
        if (!File.Exists(SystemdAnalyze))
        {
            Assert.Fail($"{SystemdAnalyze} is missing: install systemd (apt-get install systemd) to check deploy/systemd.");
        }

        var start = new ProcessStartInfo(SystemdAnalyze)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "verify", "--man=no", unitPath })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, ((await output) + (await error)).Trim());
    }
}
