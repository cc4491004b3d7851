using MeatLizard.Application.Abstractions;
using MeatLizard.Application.OpenAi.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Discord.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// A question with an image over the Discord relay: the request envelope, too long for a message, goes as the envelope
/// file; the host gets the image's exact bytes; Discord sees neither the words nor the image.
/// </summary>
public sealed class ImagesThroughDiscordTests : TwoBotsTest
{
    [Test]
    public async Task AnImage_TravelsSealedInTheEnvelopeFile_AndReachesTheHostAsItsExactBytes()
    {
        Bots.Engine.Health = Bots.Engine.Health with { Models = ["default"], Vision = [""] };
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        await Bots.StartChatAsync();
        var presence = Bots.Server!.Services.GetRequiredService<IHostPresence>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(await presence.ListAliveAsync(CancellationToken.None)).Any(h => h.TakesImagesFor(null)))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the server bot heard the host takes images");
            await Task.Delay(50);
        }

        // A PNG's header and 30 KB after it: what the relay carries is the bytes, whatever they draw.
        byte[] image = [.. TestImages.Png, .. Enumerable.Range(0, 30_000).Select(i => (byte)(i * 7))];
        var started = await Bots.SendAsync(new CompleteChat(
        [
            new ConversationMessage("user", "what is secretword in this?")
            {
                Images = [new ImageInput("messages[0].content[1].image_url", image, ImageHeader.Read(image)!)],
            },
        ], "default"));
        await started.Events.DisposeAsync();

        deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await Bots.SendAsync(new GetMessages(started.ChatId, null))).Messages.All(m => m.Role != "assistant"))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the answer arrived");
            await Task.Delay(50);
        }

        var asked = Bots.Engine.Requests[^1].Turns[^1];
        Assert.That(asked.Images!.Single().DataUrl, Is.EqualTo($"data:image/png;base64,{Convert.ToBase64String(image)}"));
        var files = Bots.Fake.AllMessages().Where(m => m.Attachment is not null).ToList();
        Assert.That(files.Select(f => f.AuthorId), Does.Contain(Bots.ServerBot.UserId), "the request went as a file");
        Assert.That(files.Select(f => f.Attachment!.Filename), Has.All.EqualTo(DiscordRelayInbox.EnvelopeFileName));
        var seen = Bots.Fake.AllMessages().Select(m => m.Content)
            .Concat(files.Select(f => System.Text.Encoding.UTF8.GetString(f.Attachment!.Content))).ToList();
        Assert.That(seen, Has.None.Contains("secretword").And.None.Contains(Convert.ToBase64String(image)[..40]));
    }
}
