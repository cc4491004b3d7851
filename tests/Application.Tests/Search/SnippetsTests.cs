using MeatLizard.Application.Search;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Search;

/// <summary>What a person types becomes plain words; a result shows the part of its text that holds them, marked.</summary>
public class SnippetsTests
{
    private static string[] Marked(string text, string query)
    {
        var (snippet, highlights) = Snippets.Make(text, SearchWords.From(query));
        return highlights.Select(h => snippet.Substring(h.Start, h.Length)).ToArray();
    }

    [TestCase("\"lizard\" NEAR(gecko, 2) -skink col:umn* OR", new[] { "lizard", "near", "gecko", "2", "skink", "col", "umn", "or" })]
    [TestCase("'; DROP TABLE messages; --", new[] { "drop", "table", "messages" })]
    [TestCase("Ünïcödé ЖАБА 東京", new[] { "ünïcödé", "жаба", "東京" })]
    [TestCase("a a A", new[] { "a" })]
    [TestCase("*** ::: \"\"", new string[0])]
    public void SearchWords_AreTheRunsOfLettersAndDigits_LowerCased_OnceEach(string text, string[] words) =>
        Assert.That(SearchWords.From(text).Words, Is.EqualTo(words));

    [Test]
    public void SearchWords_KeepsAtMostSixteen() =>
        Assert.That(SearchWords.From(string.Join(' ', Enumerable.Range(0, 40).Select(i => $"w{i}"))).Words,
            Has.Count.EqualTo(SearchWords.MaxWords));

    [Test]
    public void AShortText_IsShownWhole_WithEveryMatchMarked_InAnyCase()
    {
        var (snippet, highlights) = Snippets.Make("Desert  LIZARDS\nburrow into the sand.", SearchWords.From("lizards burrow"));

        Assert.That(snippet, Is.EqualTo("Desert LIZARDS burrow into the sand."), "white space runs become one space");
        Assert.That(highlights.Select(h => snippet.Substring(h.Start, h.Length)), Is.EqualTo(new[] { "LIZARDS", "burrow" }));
    }

    [Test]
    public void ALongText_IsCutAroundTheMatches_WithEllipses()
    {
        var before = string.Join(' ', Enumerable.Range(0, 100).Select(i => $"filler{i}"));
        var after = string.Join(' ', Enumerable.Range(100, 100).Select(i => $"filler{i}"));
        var (snippet, highlights) = Snippets.Make($"{before} the axolotl smiles {after}", SearchWords.From("axolotl"));

        Assert.That(snippet, Does.StartWith("…filler97 filler98 filler99 the axolotl smiles filler100"));
        Assert.That(snippet, Does.EndWith("…"));
        Assert.That(snippet.Split(' '), Has.Length.EqualTo(Snippets.MaxWords));
        Assert.That(highlights.Select(h => snippet.Substring(h.Start, h.Length)), Is.EqualTo(new[] { "axolotl" }));
    }

    [Test]
    public void ALongText_ShowsTheStretchHoldingMostOfTheWords()
    {
        var filler = string.Join(' ', Enumerable.Range(0, 60).Select(i => $"f{i}"));
        var text = $"gecko alone {filler} gecko and skink together {filler}";

        Assert.That(Marked(text, "gecko skink"), Is.EqualTo(new[] { "gecko", "skink" }));
    }

    [Test]
    public void MarkupIsShownAsWritten_AndItsWordsMarked() =>
        Assert.That(Snippets.Make("<script>alert(1)</script>", SearchWords.From("script")).Text,
            Is.EqualTo("<script>alert(1)</script>"));

    [Test]
    public void WordsAreMatchedWhole_NotAsPartsOfLongerWords() =>
        Assert.That(Marked("cat catalogue concat cat.", "cat"), Is.EqualTo(new[] { "cat", "cat" }));

    [Test]
    public void TextOutsideTheBasicPlane_KeepsOffsetsInUtf16Units()
    {
        var (snippet, highlights) = Snippets.Make("🦎 lizard 🦎 𝒜lizard", SearchWords.From("lizard"));

        Assert.That(highlights.Select(h => snippet.Substring(h.Start, h.Length)), Is.EqualTo(new[] { "lizard" }));
        Assert.That(highlights[0].Start, Is.EqualTo(3));
    }
}
