using System.Diagnostics;
using System.Text.RegularExpressions;

namespace MeatLizard.Architecture.Tests;

/// <summary>
/// Nothing a run writes reaches git: databases, objects and data-protection keys live under a data folder, and a
/// committed key lets anyone who reads the repository mint sessions for every install that used it.
/// </summary>
public sealed partial class RepositoryHygieneTests
{
    [Test]
    public async Task Git_TracksNoFileUnderADataFolder_NorAnyKeyOrDatabaseFile()
    {
        var root = RepositoryRoot();
        var tracked = (await GitAsync(root, "ls-files", "-z")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(tracked, Is.Not.Empty, "git ls-files listed nothing: is this a git checkout?");

        var offending = tracked.Where(path => IsUnderDataFolder(path) || LooksLikeSecretOrRunOutput(path)).ToList();
        offending.AddRange(tracked.Where(path => !offending.Contains(path) && HoldsPrivateKeyMaterial(Path.Combine(root, path))));

        Assert.That(offending, Is.Empty,
            "files written by a run or holding key material are tracked by git; remove them (git rm --cached) and rotate what they held");
    }

    [TestCase("data/meatlizard.db")]
    [TestCase("data/keys/key-3f1c.xml")]
    [TestCase("src/Presentation.Api/data/keys/key-3f1c.xml")]
    [TestCase("src/Presentation.Api/data/objects/transcripts/a.json")]
    [TestCase("src/Presentation.DiscordServer/data/meatlizard.db")]
    [TestCase("keys/key-3f1c.xml")]
    [TestCase("deploy/site.pfx")]
    public async Task GitIgnore_CoversEveryDataFolderAndKeyFile(string path)
    {
        // check-ignore exits 0 when the path is ignored, 1 when it is not.
        var (exitCode, _) = await RunGitAsync(RepositoryRoot(), "check-ignore", "--no-index", "-q", path);

        Assert.That(exitCode, Is.Zero, $"{path} is not ignored by .gitignore");
    }

    [TestCase("src/Presentation.Api/data/keys/key-1.xml", true)]
    [TestCase("tests/Fixtures/Data/sample.json", true)]
    [TestCase("src/Infrastructure/Persistence/SqliteDataSource.cs", false)]
    [TestCase("src/Infrastructure/Persistence/Migrations/Sqlite/0001_initial.sql", false)]
    [TestCase("deploy/tls.pfx", true)]
    [TestCase("bench/out/meatlizard.db-wal", true)]
    [TestCase("docs/key-rotation.md", false)]
    public void TheRules_RecogniseRunOutputAndKeys(string path, bool offends) =>
        Assert.That(IsUnderDataFolder(path) || LooksLikeSecretOrRunOutput(path), Is.EqualTo(offends));

    private static bool IsUnderDataFolder(string path) =>
        path.Split('/').SkipLast(1).Any(segment => segment.Equals("data", StringComparison.OrdinalIgnoreCase));

    private static bool LooksLikeSecretOrRunOutput(string path) => SecretOrRunOutputName().IsMatch(Path.GetFileName(path));

    // ASP.NET data-protection key files, certificate bundles, SQLite databases and their journals, key files.
    [GeneratedRegex(@"^key-.*\.xml$|\.(pfx|p12|key|db|db-shm|db-wal|db-journal|sqlite|sqlite3)$", RegexOptions.IgnoreCase)]
    private static partial Regex SecretOrRunOutputName();

    private static bool HoldsPrivateKeyMaterial(string file)
    {
        if (!File.Exists(file) || new FileInfo(file).Length > 1_000_000)
        {
            return false;
        }

        var text = File.ReadAllText(file);
        // A PEM private key, or a data-protection key element (<masterKey> holds the key's secret).
        return text.Contains("-----BEGIN", StringComparison.Ordinal) && text.Contains("PRIVATE KEY-----", StringComparison.Ordinal)
               || text.Contains("<masterKey", StringComparison.Ordinal);
    }

    private static async Task<string> GitAsync(string root, params string[] arguments)
    {
        var (exitCode, output) = await RunGitAsync(root, arguments);
        Assert.That(exitCode, Is.Zero, $"git {string.Join(' ', arguments)} failed: {output}");
        return output;
    }

    private static async Task<(int ExitCode, string Output)> RunGitAsync(string root, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var git = Process.Start(start) ?? throw new InvalidOperationException("git could not be started.");
        var output = git.StandardOutput.ReadToEndAsync();
        var error = git.StandardError.ReadToEndAsync();
        await git.WaitForExitAsync();
        return (git.ExitCode, await output + await error);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MeatLizard.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("MeatLizard.sln not found above the test directory.");
    }
}
