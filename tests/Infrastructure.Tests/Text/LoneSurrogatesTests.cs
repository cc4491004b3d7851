using System.Text.Json;
using MeatLizard.Infrastructure;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Text;

public sealed class LoneSurrogatesTests
{
    [TestCase("""{"t":"a\ud800b"}""", """{"t":"a\uFFFDb"}""", TestName = "a high half alone")]
    [TestCase("""{"t":"a\uDC00"}""", """{"t":"a\uFFFD"}""", TestName = "a low half alone, upper-case hex")]
    [TestCase("""{"t":"\udc00\ud800"}""", """{"t":"\uFFFD\uFFFD"}""", TestName = "both halves, in the wrong order")]
    [TestCase("""{"t":"\ud800\u0041"}""", """{"t":"\uFFFD\u0041"}""", TestName = "a high half before another escape")]
    [TestCase("""{"t":"\ud800"}, {"u":"\ud83e\udd8e"}""", """{"t":"\uFFFD"}, {"u":"\ud83e\udd8e"}""", TestName = "a lone half beside a whole pair")]
    public void EachEscapedLoneHalf_BecomesTheReplacementCharacter(string json, string expected)
    {
        var repaired = LoneSurrogates.Repair(json);

        Assert.That(repaired, Is.EqualTo(expected));
        Assert.DoesNotThrow(() => JsonDocument.Parse(repaired.Split(", ")[0]).RootElement.GetProperty("t").GetString());
    }

    [TestCase("""{"t":"plain"}""", TestName = "no escapes")]
    [TestCase("""{"t":"\ud83e\udd8e \u00e9 \n \" \\"}""", TestName = "a whole pair and other escapes")]
    [TestCase("""{"t":"\\ud800"}""", TestName = "an escaped backslash before the letters ud800")]
    [TestCase("""{"t":"\ud8"}""", TestName = "too short to be an escape")]
    public void TextWithNoLoneHalf_IsTheSameString(string json)
    {
        Assert.That(LoneSurrogates.Repair(json), Is.SameAs(json));
    }
}
