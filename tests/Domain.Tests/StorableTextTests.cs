using MeatLizard.Domain.Common;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

public sealed class StorableTextTests
{
    [TestCase("plain")]
    [TestCase("tab\tnewline\ncarriage\r")]
    [TestCase("astral 🦎 pair")]
    [TestCase("")]
    public void Check_TextAPersonMayType_Passes(string text) =>
        Assert.DoesNotThrow(() => StorableText.Check(text, "content"));

    [TestCase("nul\0", 3)]
    [TestCase("\u001b[0m", 0)]
    [TestCase("ab\u007f", 2)]
    [TestCase("c1 \u0085", 3)]
    public void Check_AControlCharacter_IsRefusedNamingTheFieldAndPosition(string text, int position)
    {
        var refused = Assert.Throws<DomainException>(() => StorableText.Check(text, "title"))!;

        Assert.That(refused.Field, Is.EqualTo("title"));
        Assert.That(refused.Kind, Is.EqualTo(DomainErrorKind.Invalid));
        Assert.That(refused.Message, Does.Contain($"position {position}").And.Contain("U+"));
    }

    // Built at run time: an attribute's string argument is stored as UTF-8, which has no form for a lone surrogate.
    private static readonly string[] BrokenUtf16 = ["lone \ud83e high", "lone \udd8e low", "reversed \udd8e\ud83e", "ends high \ud83e"];

    [TestCaseSource(nameof(BrokenUtf16))]
    public void Check_BrokenUtf16_IsRefused(string text) =>
        Assert.That(Assert.Throws<DomainException>(() => StorableText.Check(text, "content"))!.Field, Is.EqualTo("content"));

    [Test]
    public void Clean_RemovesRefusedControlsAndReplacesLoneSurrogates_KeepingEverythingElse()
    {
        var cleaned = StorableText.Clean("a\0b\u0001c\td\ne\rf\u007fg\u0085h \ud83e 🦎 \udd8e end");

        Assert.That(cleaned, Is.EqualTo("abc\td\ne\rfgh \uFFFD 🦎 \uFFFD end"));
        Assert.DoesNotThrow(() => StorableText.Check(cleaned, "content"), "what Clean gives is always storable");
    }

    [Test]
    public void Clean_CleanText_IsTheSameInstance()
    {
        var text = "nothing to clean 🦎\n";

        Assert.That(StorableText.Clean(text), Is.SameAs(text));
    }

    [Test]
    public void ChatTitle_Restore_CleansATitleStoredBeforeTheRule_InsteadOfRefusingIt()
    {
        Assert.That(ChatTitle.Restore("old\0 title").Value, Is.EqualTo("old title"));
        Assert.That(ChatTitle.Restore("\0\u0001"), Is.EqualTo(ChatTitle.Default));
        Assert.Throws<DomainException>(() => ChatTitle.From("old\0 title"));
    }
}
