using System.Reflection;
using System.Text.RegularExpressions;

namespace MeatLizard.Architecture.Tests;

/// <summary>
/// Application classes stay small (issue 35): about 200 lines and at most 7 constructor dependencies. Any that is
/// over is listed, with why, in the README's layout section — and what that table lists is still over, so it is kept
/// true as classes are split.
/// </summary>
public sealed partial class ApplicationSizeTests
{
    private const int MaxDependencies = 7;
    private const int MaxLines = 220;

    private static readonly Assembly Application = typeof(MeatLizard.Application.DependencyInjection).Assembly;

    [Test]
    public void EveryClassOverTheLimits_IsListedInTheReadme_AndEveryListedOneIsStillOver()
    {
        var over = OverDependencies().Concat(OverLines()).ToHashSet(StringComparer.Ordinal);
        var listed = ListedInReadme().ToHashSet(StringComparer.Ordinal);

        Assert.Multiple(() =>
        {
            Assert.That(over.Except(listed).Order(), Is.Empty, "over the limits and not in the README's list");
            Assert.That(listed.Except(over).Order(), Is.Empty, "in the README's list and no longer over the limits");
        });
    }

    /// <summary>Classes (not records: their constructors are their fields) taking more than 7 dependencies.</summary>
    private static IEnumerable<string> OverDependencies() =>
        Application.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && !t.IsNested && !IsRecord(t)
                        && !t.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute)))
            .Where(t => t.GetConstructors().Any(c => c.GetParameters().Length > MaxDependencies))
            .Select(t => t.Name);

    /// <summary>Source files in Application over the line limit, by name (one class per file).</summary>
    private static IEnumerable<string> OverLines()
    {
        var source = Path.Combine(LayeringTests.RepositoryRoot(), "src", "Application");
        return Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadLines(f).Count() > MaxLines)
            .Select(f => Path.GetFileNameWithoutExtension(f));
    }

    private static bool IsRecord(Type type) => type.GetMethod("<Clone>$") is not null;

    /// <summary>The class names in the first column of the README's table of exceptions.</summary>
    private static IEnumerable<string> ListedInReadme()
    {
        var readme = File.ReadAllText(Path.Combine(LayeringTests.RepositoryRoot(), "README.md"));
        var start = readme.IndexOf("| class | size | why |", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThan(0), "the README's table of exceptions");
        return readme[start..].Split('\n').Skip(2).TakeWhile(line => line.StartsWith('|'))
            .Select(line => ClassCell().Match(line))
            .Where(m => m.Success)
            .Select(m => m.Groups["name"].Value);
    }

    [GeneratedRegex(@"^\|\s*`(?:[\w/]*/)?(?<name>\w+)`")]
    private static partial Regex ClassCell();
}
