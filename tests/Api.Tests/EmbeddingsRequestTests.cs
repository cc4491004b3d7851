using System.Text.Json;
using MeatLizard.Presentation.Api.OpenAi;

namespace MeatLizard.Api.Tests;

/// <summary>How a <c>/v1/embeddings</c> body is read, without a host: the forms OpenAI's reference allows, and the refusals.</summary>
public sealed class EmbeddingsRequestTests
{
    [Test]
    public void AString_IsOneInput_AsFloatsByDefault()
    {
        var request = Read("""{"model":"m","input":"hello","user":"u-1","dimensions":null}""");

        Assert.That(request.Command.Inputs, Is.EqualTo(new[] { "hello" }));
        Assert.That(request.Command.Model, Is.EqualTo("m"));
        Assert.That(request.Command.Dimensions, Is.Null);
        Assert.That(request.Base64, Is.False);
    }

    [Test]
    public void AnArrayOfStrings_IsTheInputsInOrder_WithBase64AndDimensions()
    {
        var request = Read("""{"model":"m","input":["a","b","c"],"encoding_format":"base64","dimensions":256}""");

        Assert.That(request.Command.Inputs, Is.EqualTo(new[] { "a", "b", "c" }));
        Assert.That(request.Base64, Is.True);
        Assert.That(request.Command.Dimensions, Is.EqualTo(256));
    }

    [TestCase("""{"model":"m","input":[1,2]}""", "input")]
    [TestCase("""{"model":"m","input":[[1],[2]]}""", "input")]
    [TestCase("""{"model":"m","input":null}""", "input")]
    [TestCase("""{"model":"m","input":7}""", "input")]
    [TestCase("""{"input":"x","model":""}""", "model")]
    [TestCase("""{"input":"x","model":null}""", "model")]
    [TestCase("""{"model":"m","input":"x","encoding_format":"float16"}""", "encoding_format")]
    [TestCase("""{"model":"m","input":"x","dimensions":-1}""", "dimensions")]
    [TestCase("""{"model":"m","input":"x","dimensions":1.5}""", "dimensions")]
    [TestCase("""{"model":"m","input":"x","stream":true}""", "stream")]
    public void Refused_NamesTheParam(string body, string param)
    {
        var refused = Assert.Throws<ChatCompletionRequest.Refused>(() => Read(body))!;

        Assert.That(refused.Param, Is.EqualTo(param));
        Assert.That(refused.Status, Is.EqualTo(400));
    }

    private static EmbeddingsRequest Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        return EmbeddingsRequest.Read(document.RootElement);
    }
}
