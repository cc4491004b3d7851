using System.Text;
using System.Text.Json;
using MeatLizard.Application.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public class WellFormedJsonTests
{
    // <FF> and the like stand for one raw byte of that value: bytes a JSON text may hold only as UTF-8.
    [TestCase("""{"a":"\ud800"}""", "a", TestName = "a high surrogate escaped alone")]
    [TestCase("""{"a":"x\udc00y"}""", "a", TestName = "a low surrogate escaped alone")]
    [TestCase("""{"a":"\udc00\ud800"}""", "a", TestName = "a pair escaped in the wrong order")]
    [TestCase("""{"a":"<FF>"}""", "a", TestName = "a byte UTF-8 never uses")]
    [TestCase("""{"a":"<C0><AF>"}""", "a", TestName = "an overlong encoding")]
    [TestCase("""{"a":"<ED><A0><80>"}""", "a", TestName = "a surrogate encoded as UTF-8")]
    [TestCase("""{"a":"<E2><82>"}""", "a", TestName = "a sequence cut short")]
    [TestCase("""{"a":"line\n<FF>"}""", "a", TestName = "a raw bad byte in a string with escapes")]
    [TestCase("""{"messages":[{"role":"user","content":"ok"},{"role":"user","content":[{"type":"text","text":"\ud800"}]}]}""",
        "messages[1].content[0].text", TestName = "deep in arrays and objects")]
    [TestCase("""{"stop":["a",1,null,{"b":[]},"\udfff"]}""", "stop[4]", TestName = "an array's place counts every value")]
    [TestCase("""{"tools":[{"f":{"\ud800":1}}]}""", "tools[0].f", TestName = "a name: the object that holds it")]
    [TestCase("""{"\ud800":1}""", null, TestName = "a name at the top")]
    [TestCase("""["\ud800"]""", "[0]", TestName = "a top-level array")]
    public void TextThatIsNotUnicode_IsFound_AndItsFieldNamed(string json, string? field)
    {
        using var document = JsonDocument.Parse(Bytes(json));

        Assert.That(WellFormedJson.IsWellFormed(document.RootElement, out var named), Is.False);
        Assert.That(named, Is.EqualTo(field));
    }

    [TestCase("""{"a":"caf\u00e9 \ud83d\ude00 line\nnext \"quoted\" \\ \/"}""", TestName = "escapes, a pair escaped")]
    [TestCase("""{"a":"café 😀 日本語 ñ"}""", TestName = "raw UTF-8 of one to four bytes")]
    [TestCase("""{"caf\u00e9":["",{"\ud83d\ude00":true},1.5,null]}""", TestName = "names escaped, empty strings")]
    [TestCase("""{"a":"<F4><8F><BF><BF>"}""", TestName = "the last code point")]
    public void WellFormedText_Passes(string json)
    {
        using var document = JsonDocument.Parse(Bytes(json));

        Assert.That(WellFormedJson.IsWellFormed(document.RootElement, out var named), Is.True);
        Assert.That(named, Is.Null);
    }

    [Test]
    public void AnEscapedStringOfAnyLength_IsCheckedWhole()
    {
        // Longer than any buffer reused from the strings before it: the last character is the bad one.
        var json = $$"""{"a":"{{string.Concat(Enumerable.Repeat("\\n", 10))}}","b":"{{string.Concat(Enumerable.Repeat("x\\n", 50_000))}}\udc00"}""";
        using var document = JsonDocument.Parse(json);

        Assert.That(WellFormedJson.IsWellFormed(document.RootElement, out var named), Is.False);
        Assert.That(named, Is.EqualTo("b"));
    }

    /// <summary>The text as UTF-8, each <c>&lt;XX&gt;</c> one raw byte.</summary>
    internal static byte[] Bytes(string json)
    {
        var bytes = new List<byte>();
        var text = new StringBuilder();
        for (var i = 0; i < json.Length; i++)
        {
            if (json[i] == '<' && i + 3 < json.Length && json[i + 3] == '>')
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text.ToString()));
                text.Clear();
                bytes.Add(Convert.ToByte(json.Substring(i + 1, 2), 16));
                i += 3;
            }
            else
            {
                text.Append(json[i]);
            }
        }

        bytes.AddRange(Encoding.UTF8.GetBytes(text.ToString()));
        return [.. bytes];
    }
}
