namespace MeatLizard.Architecture.Tests;

/// <summary>
/// The tests' own code stays readable (issue 35, shared test scaffolding): no test source file over about 500 lines.
/// A fixture that grows past it is split by behaviour, as a partial class across files (<c>DirectRelayApiTests.Tokens.cs</c>)
/// or into fixtures of their own; shared set-up goes into the suites' <c>Support</c> folders rather than being copied.
/// </summary>
public sealed class TestFileSizeTests
{
    private const int MaxLines = 520;

    [Test]
    public void NoTestSourceFile_IsOverAbout500Lines()
    {
        var tests = Path.Combine(LayeringTests.RepositoryRoot(), "tests");
        var separator = Path.DirectorySeparatorChar;
        var files = Directory.EnumerateFiles(tests, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{separator}obj{separator}", StringComparison.Ordinal)
                        && !f.Contains($"{separator}bin{separator}", StringComparison.Ordinal))
            .ToList();

        var over = files
            .Select(f => (File: Path.GetRelativePath(tests, f), Lines: File.ReadLines(f).Count()))
            .Where(f => f.Lines > MaxLines)
            .Select(f => $"{f.File} ({f.Lines} lines)");

        Assert.That(files, Has.Count.GreaterThan(100), "the test sources were found");
        Assert.That(over, Is.Empty, $"test files over {MaxLines} lines: split them by behaviour");
    }
}
