using MeatLizard.Infrastructure.Inference.LlamaCpp;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

public sealed class LlamaCliOutputFilterTests
{
    private static List<string> Feed(params string[] chunks)
    {
        var filter = new LlamaCliOutputFilter();
        var emitted = chunks.Select(c => filter.Push(c, final: false)).ToList();
        emitted.Add(filter.Push("", final: true));
        return emitted;
    }

    [Test]
    public void EndOfTextMarker_AndTheBlankLinesAfterIt_AreRemoved() =>
        Assert.That(string.Concat(Feed("Hello", " world", ".", " [end of text]\n", "\n\n")), Is.EqualTo("Hello world."));

    [Test]
    public void MarkerSplitAcrossChunks_IsRemoved() =>
        Assert.That(string.Concat(Feed("Hi", " [end", " of te", "xt]\n\n")), Is.EqualTo("Hi"));

    [Test]
    public void TextIsPassedOnAtOnce_WhenItCannotStartTheMarker() =>
        Assert.That(Feed("Hello", " world")[..2], Is.EqualTo(new[] { "Hello", " world" }));

    [Test]
    public void APossibleMarkerStart_IsHeldBack_ThenReleasedWhenItIsNot() =>
        Assert.That(Feed("a [e", "gg]")[..2], Is.EqualTo(new[] { "a", " [egg]" }));

    [Test]
    public void InnerNewlines_AreKept_TrailingOnesDropped() =>
        Assert.That(string.Concat(Feed("one\n", "two\n\n")), Is.EqualTo("one\ntwo"));

    [Test]
    public void NothingAfterTheMarker_IsPassedOn() =>
        Assert.That(string.Concat(Feed("x [end of text]", "> more")), Is.EqualTo("x"));
}
