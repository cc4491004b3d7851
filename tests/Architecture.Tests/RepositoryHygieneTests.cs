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

    private static bool HoldsPrivateKeyMaterial(string file) =>
        File.Exists(file) && new FileInfo(file).Length <= 1_000_000 && IsKeyMaterial(File.ReadAllText(file));

    private static bool IsKeyMaterial(string text) => PemPrivateKey().IsMatch(text) || PlainDataProtectionKey().IsMatch(text);

    [TestCase("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----", true)]
    [TestCase("-----BEGIN EC PRIVATE KEY-----\r\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oQBWtBzPZ8Yg\r\n", true)]
    [TestCase("<masterKey p4:requiresEncryption=\"true\" xmlns:p4=\"x\">\n  <!-- Warning: the key below is in an unencrypted form. -->\n  <value>Xb3kS1u8o9bq0mJb7qz2Y0m4o5v6Q9yqJm0sT1u2V3w4X5y6Z7a8b9c0d1e2f3g4h5==</value>\n</masterKey>", true)]
    [TestCase("Assert.That(stored, Has.All.Not.Contains(\"<masterKey\"));", false)]
    [TestCase("text.Contains(\"-----BEGIN\") && text.Contains(\"PRIVATE KEY-----\")", false)]
    public void TheContentRule_RecognisesKeysNotTalkAboutThem(string text, bool isKey) =>
        Assert.That(IsKeyMaterial(text), Is.EqualTo(isKey));

    [GeneratedRegex(@"-----BEGIN (RSA |EC |DSA |ENCRYPTED |OPENSSH )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{40,}")]
    private static partial Regex PemPrivateKey();

    // An ASP.NET data-protection key as the framework writes it unencrypted: the secret in <masterKey><value>.
    [GeneratedRegex(@"<masterKey\b[^>]*>\s*(<!--.*?-->\s*)?<value>[A-Za-z0-9+/=]{40,}</value>", RegexOptions.Singleline)]
    private static partial Regex PlainDataProtectionKey();

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
