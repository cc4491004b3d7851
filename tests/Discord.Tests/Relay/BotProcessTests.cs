using System.Diagnostics;
using System.Security.Cryptography;
using MeatLizard.Discord.Tests.Fake;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>The bot hosts as the operator runs them: real processes, settings from the environment.</summary>
public sealed class BotProcessTests
{
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string host, IDictionary<string, string> environment, params string[] arguments)
    {
        var workDir = Path.Combine(Path.GetTempPath(), "meatlizard-bot-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workDir);
        try
        {
            return await RunInAsync(workDir, host, environment, arguments);
        }
        finally
        {
            try
            {
                Directory.Delete(workDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Runs a bot host in <paramref name="workDir"/> (its content root) until it exits (60 s at most).</summary>
    internal static async Task<(int ExitCode, string Stdout, string Stderr)> RunInAsync(
        string workDir, string host, IDictionary<string, string> environment, params string[] arguments)
    {
        var dll = Path.Combine(TestContext.CurrentContext.TestDirectory, $"MeatLizard.Presentation.{host}.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = workDir,
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    [Test]
    public async Task TheClientBot_WithoutTheMessageContentIntent_ExitsWithOneClearLine()
    {
        await using var fake = await FakeDiscordServer.StartAsync();
        var server = fake.AddBot("server");
        var client = fake.AddBot("client");
        client.MessageContentAllowed = false;

        var (exitCode, stdout, stderr) = await RunAsync("DiscordClient", new Dictionary<string, string>
        {
            ["Discord__BotToken"] = client.Token,
            ["Discord__GuildId"] = fake.GuildId,
            ["Discord__CategoryId"] = fake.CategoryId,
            ["Discord__ServerBotUserId"] = server.UserId,
            ["Discord__ApiBaseUrl"] = fake.ApiBaseUrl,
            ["Relay__Keys__0__Id"] = "1",
            ["Relay__Keys__0__Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        });

        Assert.That(exitCode, Is.EqualTo(3), stdout);
        Assert.That(stderr.Trim(), Does.StartWith("Discord error: MESSAGE_CONTENT intent is not enabled for this bot"));
        Assert.That(stdout + stderr, Does.Not.Contain(client.Token), "the token is never printed");
    }

    [Test]
    public async Task Doctor_ChecksInsteadOfRunning_WithSettingsOnTheCommandLine_ExitOneOnABadToken()
    {
        await using var fake = await FakeDiscordServer.StartAsync();
        var server = fake.AddBot("server");
        var client = fake.AddBot("client");
        var environment = new Dictionary<string, string>
        {
            ["Discord__GuildId"] = fake.GuildId,
            ["Discord__CategoryId"] = fake.CategoryId,
            ["Discord__ApplicationId"] = server.ApplicationId,
            ["Discord__ClientBotUserId"] = client.UserId,
            ["Discord__ApiBaseUrl"] = fake.ApiBaseUrl,
            ["Relay__Keys__0__Id"] = "1",
            ["Relay__Keys__0__Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        };

        var good = await RunAsync("DiscordServer", environment, "doctor", $"--Discord:BotToken={server.Token}");
        var bad = await RunAsync("DiscordServer", environment, "doctor", "--Discord:BotToken=bad-token-value");

        Assert.Multiple(() =>
        {
            Assert.That(good.ExitCode, Is.Zero, good.Stdout + good.Stderr);
            Assert.That(good.Stdout, Does.Contain($"ok   discord: token valid for server (user id {server.UserId})"));
            Assert.That(bad.ExitCode, Is.EqualTo(1), bad.Stdout + bad.Stderr);
            Assert.That(bad.Stdout, Does.Contain("FAIL discord: 401 ").And.Not.Contain("bad-token-value"));
            Assert.That(fake.Requests.Where(r => r.Template == "/gateway/bot"), Is.Empty, "doctor does not start the bot");
        });
    }

    [Test]
    public async Task TheServerBot_WithoutTheClientBotId_ExitsNamingTheSetting()
    {
        var (exitCode, _, stderr) = await RunAsync("DiscordServer", new Dictionary<string, string>
        {
            ["Discord__BotToken"] = "secret-token",
            ["Discord__GuildId"] = "1",
            ["Discord__ApplicationId"] = "2",
            ["Discord__CategoryId"] = "3",
            ["Relay__Keys__0__Id"] = "1",
            ["Relay__Keys__0__Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        });

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(stderr.Trim(), Does.StartWith("Configuration error: Discord:ClientBotUserIds is required"));
    }
}
