using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Operations;

/// <summary>
/// <c>setup --admin USER</c>'s checks that need no database: none configured, or a name no account can have — each one
/// FAIL line, exit 1, nothing changed in Discord nor in a file. What it does on each database is in Distributed.Tests'
/// <c>ServerBotSetupAdminTests</c>.
/// </summary>
public sealed partial class SetupTests
{
    [Test]
    public async Task Admin_WithNoDatabaseConfigured_OneLineNamingTheSetting_ExitOne_NothingChanged()
    {
        var (exitCode, lines) = await SetupAsync(admin: "alice");

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).ToList(), Is.EqualTo(new[]
            {
                "FAIL web admin: no database is configured, so setup cannot make alice an admin — set Storage:Provider (Postgres, "
                + "with ConnectionStrings:Postgres) to the API's database, as the server bot runs with, or run the API host's `admin promote alice`",
            }));
            Assert.That(lines, Has.Some.StartWith("ok   discord permissions:"), "Discord's checks are made and shown all the same");
            AssertNothingChanged();
            Assert.That(Directory.Exists(Path.Combine(_directory.FullName, "data")), Is.False, "no database made in the working folder");
        });
    }

    [Test]
    public async Task Admin_ANameNoAccountCanHave_IsRefusedBeforeAnythingChanges()
    {
        var (exitCode, lines) = await SetupAsync(new() { ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(_directory.FullName, "ml.db")}" },
            admin: "no spaces");

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).ToList(), Is.EqualTo(new[]
            {
                "FAIL web admin: --admin 'no spaces' names no account — Give a user's id or username.",
            }));
            AssertNothingChanged();
            Assert.That(File.Exists(Path.Combine(_directory.FullName, "ml.db")), Is.False, "the database is not touched");
        });
    }
}
