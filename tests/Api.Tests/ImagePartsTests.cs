using System.Text.Json;
using MeatLizard.Application.Common;
using MeatLizard.Presentation.Api.OpenAi;
using MeatLizard.TestKit;

namespace MeatLizard.Api.Tests;

/// <summary>
/// How <c>image_url</c> content parts of a <c>/v1/chat/completions</c> body are read, without a host: the formats taken
/// (read from their bytes), and every refusal naming the part it is about.
/// </summary>
public sealed class ImagePartsTests
{
    private static readonly OpenAiOptions Caps = new() { MaxImageBytes = 4096, MaxImagePixels = 1000, MaxImagesPerMessage = 2 };

    private static IEnumerable<TestCaseData> Formats()
    {
        yield return new TestCaseData("image/png", TestImages.Png, 1, 1).SetName("PNG");
        yield return new TestCaseData("image/gif", TestImages.Gif, 1, 1).SetName("GIF");
        yield return new TestCaseData("image/jpeg", TestImages.Jpeg, 3, 2).SetName("JPEG");
        yield return new TestCaseData("image/webp", TestImages.WebPLossy, 5, 4).SetName("WebP lossy");
        yield return new TestCaseData("image/webp", TestImages.WebPLossless, 7, 6).SetName("WebP lossless");
        yield return new TestCaseData("image/webp", TestImages.WebPExtended, 300, 200).SetName("WebP extended");
    }

    [TestCaseSource(nameof(Formats))]
    public void EachFormat_IsTaken_WithItsSizeFromItsHeader(string mediaType, byte[] bytes, int width, int height)
    {
        var request = Read(Body(Text("what is this?"), Image(TestImages.DataUrl(mediaType, bytes))),
            new OpenAiOptions());

        var question = request.Command.Messages[^1];
        Assert.That(question.Content, Is.EqualTo("what is this?"));
        Assert.That(question.Images, Has.Count.EqualTo(1));
        var image = question.Images[0];
        Assert.That(image.Data, Is.EqualTo(bytes));
        Assert.That(image.Header.MediaType, Is.EqualTo(mediaType));
        Assert.That((image.Header.Width, image.Header.Height), Is.EqualTo((width, height)));
        Assert.That(image.Param, Is.EqualTo("messages[0].content[1].image_url"));
    }

    [Test]
    public void ImageJpg_IsTakenAsJpeg_AndDetailIsAccepted()
    {
        var request = Read($$$"""
            {"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},
             {"type":"image_url","image_url":{"url":"{{{TestImages.DataUrl("image/jpg", TestImages.Jpeg)}}}","detail":"low"}}]}]}
            """, Caps);

        Assert.That(request.Command.Messages[0].Images[0].Header.MediaType, Is.EqualTo("image/jpeg"));
    }

    private static IEnumerable<TestCaseData> Refusals()
    {
        const string part = "messages[0].content[1].image_url";
        yield return Refusal("remote https URL", Body(Text("x"), Image("https://example.com/cat.png")), part, "fetches nothing");
        yield return Refusal("remote http URL", Body(Text("x"), Image("HTTP://example.com/cat.png")), part, "fetches nothing");
        yield return Refusal("not a data URL", Body(Text("x"), Image("file:///etc/passwd")), part, "data: URL");
        yield return Refusal("no base64", Body(Text("x"), Image("data:image/png,abc")), part, "base64");
        yield return Refusal("bad base64", Body(Text("x"), Image("data:image/png;base64,@@@@")), part, "base64");
        yield return Refusal("BMP declared", Body(Text("x"), Image(TestImages.DataUrl("image/bmp", TestImages.Png))), part,
            "not 'image/bmp'");
        yield return Refusal("bytes contradict the type",
            Body(Text("x"), Image(TestImages.DataUrl("image/png", TestImages.Jpeg))), part, "its bytes are image/jpeg");
        yield return Refusal("not an image at all",
            Body(Text("x"), Image(TestImages.DataUrl("image/png", "hello, world, not a picture"u8.ToArray()))), part,
            "not a PNG");
        yield return Refusal("a PNG cut short",
            Body(Text("x"), Image(TestImages.DataUrl("image/png", TestImages.Png[..20]))), part, "not a PNG");
        yield return Refusal("too many pixels",
            Body(Text("x"), Image(TestImages.DataUrl("image/png", TestImages.PngOf(40, 30)))), part, "at most 1000");
        yield return Refusal("too many bytes together",
            Body(Text("x"), Image(TestImages.DataUrl("image/png", [.. TestImages.Png, .. new byte[3000]])),
                Image(TestImages.DataUrl("image/png", [.. TestImages.Png, .. new byte[3000]]))),
            "messages[0].content[2].image_url", "at most 4096 bytes");
        yield return Refusal("too many images",
            Body(Text("x"), Image(TestImages.DataUrl("image/gif", TestImages.Gif)),
                Image(TestImages.DataUrl("image/gif", TestImages.Gif)), Image(TestImages.DataUrl("image/gif", TestImages.Gif))),
            "messages[0].content[3].image_url", "at most 2 images");
        yield return Refusal("no url", Body(Text("x"), """{"type":"image_url","image_url":{}}"""), part, "image_url.url");
        yield return Refusal("a bad detail",
            Body(Text("x"), """{"type":"image_url","image_url":{"url":"data:image/gif;base64,R0lG","detail":"max"}}"""),
            part + ".detail", "auto, low or high");
        yield return Refusal("an audio part", Body(Text("x"), """{"type":"input_audio","input_audio":{}}"""),
            "messages[0].content[1]", "'input_audio'");
        yield return Refusal("a part that is no object", Body(Text("x"), "7"), "messages[0].content[1]", "object");
        yield return Refusal("an image in a system message", $$$"""
            {"model":"m","messages":[
              {"role":"system","content":[{"type":"image_url","image_url":{"url":"{{{TestImages.DataUrl("image/gif", TestImages.Gif)}}}"}}]},
              {"role":"user","content":"c"}]}
            """, "messages[0].content[0].image_url", "user messages only");
    }

    [TestCaseSource(nameof(Refusals))]
    public void Refused_NamesThePart(string body, string param, string says)
    {
        var refused = Assert.Throws<ChatCompletionRequest.Refused>(() => Read(body, Caps))!;

        Assert.That(refused.Param, Is.EqualTo(param));
        Assert.That(refused.Status, Is.EqualTo(400));
        Assert.That(refused.Message, Does.Contain(says));
    }

    private static TestCaseData Refusal(string name, string body, string param, string says) =>
        new TestCaseData(body, param, says).SetName($"Refused: {name}");

    private static string Text(string text) => JsonSerializer.Serialize(new { type = "text", text });

    private static string Image(string url) => JsonSerializer.Serialize(new { type = "image_url", image_url = new { url } });

    private static string Body(params string[] parts) =>
        $$"""{"model":"m","messages":[{"role":"user","content":[{{string.Join(",", parts)}}]}]}""";

    private static ChatCompletionRequest Read(string json, OpenAiOptions caps)
    {
        using var document = JsonDocument.Parse(json);
        return ChatCompletionRequest.Read(document.RootElement, caps);
    }
}
