using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using static MeatLizard.TestKit.LoopbackChatServer;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The official <c>openai</c> SDK sending an image through <c>/v1</c> to a model host whose OpenAI-compatible upstream
/// serves a model that sees (<c>Vision=true</c>) and one that does not: the first is answered, the upstream given the
/// image part unchanged; the second is refused before anything reaches the host, the SDK's error naming the part.
/// </summary>
[NonParallelizable]
public sealed class OpenAiSdkImageTests
{
    private LoopbackChatServer _upstream = null!;
    private ApiHost _host = null!;
    private string _key = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = Start();
        _upstream.Respond = RespondAsync;
        (_host, _key) = await UpstreamHost.StartAsync(_upstream, new Dictionary<string, string?>
        {
            ["Inference:OpenAiCompatible:Models:0:Name"] = "seer",
            ["Inference:OpenAiCompatible:Models:0:Vision"] = "true",
            ["Inference:OpenAiCompatible:Models:1:Name"] = "blind",
            ["Inference:DefaultModel"] = "seer",
        }, h => h.TakesImagesFor("seer"), "the model host is online, seeing with 'seer'");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Test]
    public async Task AnImage_ToAModelThatSees_IsAnswered_AndReachesTheUpstreamUnchanged()
    {
        var image = TestImages.DataUrl("image/png", TestImages.Png);

        var seen = await OpenAiSdkClient.RunAsync("image", _host.BaseAddress, _key,
            environment: new Dictionary<string, string> { ["MODEL"] = "seer", ["IMAGE"] = image });

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.That(seen.GetProperty("content").GetString(), Is.EqualTo("A tiny picture."));
        var question = _upstream.Completions.Last().Json["messages"]!.AsArray()[^1]!;
        var parts = question["content"]!.AsArray();
        Assert.That(parts[0]!["text"]!.GetValue<string>(), Is.EqualTo("What is in this picture?"));
        Assert.That(parts[1]!["type"]!.GetValue<string>(), Is.EqualTo("image_url"));
        Assert.That(parts[1]!["image_url"]!["url"]!.GetValue<string>(), Is.EqualTo(image), "the image's exact bytes");
    }

    [Test]
    public async Task AnImage_ToAModelThatDoesNotSee_IsABadRequestNamingThePart()
    {
        var asked = _upstream.Completions.Count();

        var seen = await OpenAiSdkClient.RunAsync("image", _host.BaseAddress, _key,
            environment: new Dictionary<string, string>
            {
                ["MODEL"] = "blind", ["IMAGE"] = TestImages.DataUrl("image/gif", TestImages.Gif),
            });

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.False, seen.ToString());
        Assert.That(seen.GetProperty("error").GetString(), Is.EqualTo("BadRequestError"));
        Assert.That(seen.GetProperty("param").GetString(), Is.EqualTo("messages[0].content[1].image_url"));
        Assert.That(seen.GetProperty("message").GetString(), Does.Contain("does not take images"));
        Assert.That(_upstream.Completions.Count(), Is.EqualTo(asked), "nothing reached the upstream");
    }

    private static Task RespondAsync(Exchange exchange) =>
        exchange.Path == "/v1/models"
            ? exchange.WriteJsonAsync(200,
                """{"object":"list","data":[{"id":"seer","object":"model"},{"id":"blind","object":"model"}]}""")
            : exchange.WriteStreamAsync([Chunk("A tiny"), Chunk(" picture.", finish: "stop"), Usage(30, 4)]);
}
