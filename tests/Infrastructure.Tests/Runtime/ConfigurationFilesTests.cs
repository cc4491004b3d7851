using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Runtime;

/// <summary>
/// Every host has its configuration files polled, not its content-root tree watched (<see cref="ConfigurationFiles"/>),
/// and still reloads an edited <c>appsettings.json</c>.
/// </summary>
[NonParallelizable]
public sealed class ConfigurationFilesTests
{
    private string _contentRoot = null!;
    private string? _given;

    [SetUp]
    public void SetUp()
    {
        _given = Environment.GetEnvironmentVariable(ConfigurationFiles.PollingVariable);
        Environment.SetEnvironmentVariable(ConfigurationFiles.PollingVariable, null);
        _contentRoot = Directory.CreateTempSubdirectory("meatlizard-content-root-").FullName;
    }

    [TearDown]
    public void TearDown()
    {
        Environment.SetEnvironmentVariable(ConfigurationFiles.PollingVariable, _given);
        Directory.Delete(_contentRoot, recursive: true);
    }

    [Test]
    [Platform("Linux", Reason = "counts the process's inotify watches in /proc")]
    public async Task AHostStartedThroughTheRunner_PollsItsConfigurationFiles_AndStillReloadsAnEditedOne()
    {
        var settingsFile = Path.Combine(_contentRoot, "appsettings.json");
        await File.WriteAllTextAsync(settingsFile, """{ "Probe": "first" }""");

        var watchesBefore = InotifyWatches();
        var exitCode = await HostRunner.RunAsync(async () =>
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = _contentRoot });
            using var host = builder.Build();
            Assert.That(InotifyWatches() - watchesBefore, Is.Zero,
                "no inotify watch added: no FileSystemWatcher over the content root's tree (where the data folder may lie)");

            var configuration = host.Services.GetRequiredService<IConfiguration>();
            Assert.That(configuration["Probe"], Is.EqualTo("first"));

            await File.WriteAllTextAsync(settingsFile, """{ "Probe": "second" }""");
            File.SetLastWriteTimeUtc(settingsFile, DateTime.UtcNow.AddSeconds(1)); // a new time even on a coarse clock
            var deadline = DateTime.UtcNow.AddSeconds(20); // polled every 4 s
            while (configuration["Probe"] != "second" && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.That(configuration["Probe"], Is.EqualTo("second"), "the edited file was read again");
        });

        Assert.That(exitCode, Is.Zero);
    }

    /// <summary>
    /// The inotify watches this process holds, from <c>/proc/self/fdinfo</c> (one line per watched folder): .NET's
    /// FileSystemWatcher on Linux adds one per folder of the tree it watches.
    /// </summary>
    private static int InotifyWatches()
    {
        var count = 0;
        foreach (var descriptor in Directory.EnumerateFiles("/proc/self/fdinfo"))
        {
            try
            {
                count += File.ReadLines(descriptor).Count(line => line.StartsWith("inotify ", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                // closed meanwhile
            }
        }

        return count;
    }

    [Test]
    public void AnOperatorsChoice_Wins()
    {
        Environment.SetEnvironmentVariable(ConfigurationFiles.PollingVariable, "false");
        Assert.That(ConfigurationFiles.PollForChanges(), Is.False);
        Assert.That(Environment.GetEnvironmentVariable(ConfigurationFiles.PollingVariable), Is.EqualTo("false"), "left as the operator set it");
    }
}
