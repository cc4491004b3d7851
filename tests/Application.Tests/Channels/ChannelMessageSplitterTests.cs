using System.Text;
using System.Text.RegularExpressions;
using MeatLizard.Application.Channels;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Channels;

public class ChannelMessageSplitterTests
{
    private const int Discord = 2000;

    [Test]
    public void Split_WhenTextFits_IsOneUnchangedPart()
    {
        var text = "A short answer.\n\nWith two paragraphs.";

        Assert.That(ChannelMessageSplitter.Split(text, Discord), Is.EqualTo(new[] { text }));
    }

    [Test]
    public void Split_WhenParagraphsOverflow_CutsBetweenParagraphs()
    {
        var paragraphs = Enumerable.Range(0, 5).Select(i => Words($"p{i}", 700)).ToArray();
        var text = string.Join("\n\n", paragraphs);

        var parts = ChannelMessageSplitter.Split(text, Discord);

        Assert.That(parts, Has.All.Length.LessThanOrEqualTo(Discord));
        Assert.That(parts, Has.Count.EqualTo(3));
        // Every part is whole paragraphs: together they are the paragraphs, in order, none cut.
        Assert.That(parts.SelectMany(p => p.Split("\n\n")), Is.EqualTo(paragraphs));
    }

    [Test]
    public void Split_WhenCodeBlockIsCut_ClosesItAndReopensItWithItsLanguage()
    {
        var code = string.Join("\n", Enumerable.Range(0, 200).Select(i => $"    total += values[{i}]  # step {i}"));
        var text = "Here is the loop:\n\n```python\n" + code + "\n```\n\nThat is all.";

        var parts = ChannelMessageSplitter.Split(text, Discord);

        Assert.That(parts, Has.Count.GreaterThan(2));
        Assert.That(parts, Has.All.Length.LessThanOrEqualTo(Discord));
        foreach (var part in parts)
        {
            Assert.That(Regex.Matches(part, "^```", RegexOptions.Multiline).Count % 2, Is.Zero,
                "a part leaves a code block open:\n" + part);
        }

        Assert.That(parts.Skip(1).Take(parts.Count - 2), Has.All.StartsWith("```python\n"));
        // Taking the added fences away gives back every line of the code, in order, none cut.
        var lines = parts.SelectMany(p => p.Split('\n')).Where(l => l.StartsWith("    total", StringComparison.Ordinal));
        Assert.That(lines, Is.EqualTo(code.Split('\n')));
    }

    [Test]
    public void Split_WhenACodeBlockEndsInReach_CutsAfterTheBlockRatherThanInsideIt()
    {
        var code = "```js\n" + string.Join("\n", Enumerable.Range(0, 30).Select(i => $"let v{i} = {i};")) + "\n```";
        var text = Words("intro", 600) + "\n\n" + code + "\n" + Words("after", 1700);

        var parts = ChannelMessageSplitter.Split(text, Discord);

        Assert.That(parts[0], Does.EndWith(code));
        Assert.That(parts[1], Does.StartWith("after"));
    }

    [Test]
    public void Split_WhenThereIsNoSpaceAtAll_CutsHardAndLosesNothing()
    {
        var text = new string('x', 4500);

        var parts = ChannelMessageSplitter.Split(text, Discord);

        Assert.That(parts, Has.All.Length.LessThanOrEqualTo(Discord));
        Assert.That(string.Concat(parts), Is.EqualTo(text));
    }

    [Test]
    public void Split_WhenCuttingHard_NeverSplitsASurrogatePair()
    {
        var text = string.Concat(Enumerable.Repeat("😀", 3000));

        var parts = ChannelMessageSplitter.Split(text, 4096);

        Assert.That(parts, Has.All.Length.LessThanOrEqualTo(4096));
        Assert.That(parts, Has.None.Matches<string>(p => char.IsHighSurrogate(p[^1]) || char.IsLowSurrogate(p[0])));
        Assert.That(string.Concat(parts), Is.EqualTo(text));
    }

    [Test]
    public void Split_WhenTheLimitIsTooSmall_IsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ChannelMessageSplitter.Split("text", 10));

    private static string Words(string word, int length)
    {
        var text = new StringBuilder();
        while (text.Length < length)
        {
            text.Append(word).Append(' ');
        }

        return text.ToString(0, length).TrimEnd();
    }
}
