using MeatLizard.Application.Common;
using MeatLizard.Application.OpenAi;
using MeatLizard.Application.OpenAi.Commands;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Messages;

/// <summary>
/// The images of a question from the web app's send or edit (<c>images</c>, <c>data:</c> URLs), the one way for both:
/// read and capped as <c>/v1</c> reads them (<see cref="ImageDataUrls"/>), refused before any is kept when no online
/// host's model of the chat takes images, kept in the object store for the question (<see cref="ChatImages"/>), and
/// deleted again when the question is refused after all (nothing refers to them).
/// </summary>
public sealed class QuestionImages(ChatImages chatImages, ModelCatalog models, IOptions<OpenAiOptions> caps)
{
    /// <summary>Reads <paramref name="urls"/>; a refusal is a 400 naming the image (<c>images[0]</c>).</summary>
    public IReadOnlyList<ImageInput> Read(IReadOnlyList<string?>? urls) => ImageDataUrls.ReadAll(urls, "images", caps.Value);

    /// <summary>Keeps <paramref name="images"/> (at least one) for a question of <paramref name="owner"/>'s chat and asks it with them.</summary>
    public async Task<T> AskWithAsync<T>(UserId owner, Chat chat, IReadOnlyList<ImageInput> images,
        Func<IReadOnlyList<MessageImage>, Task<T>> ask, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(ask);
        await models.RequireImagesAsync(chat.Model?.Value, images[0].Param, cancellationToken);
        IReadOnlyList<MessageImage> kept = [];
        try
        {
            kept = await chatImages.KeepAsync(owner, chat.Id, [.. images.Select(i => (i.Data, i.Header))], cancellationToken);
            return await ask(kept);
        }
        catch
        {
            await chatImages.ForgetAsync(kept, CancellationToken.None);
            throw;
        }
    }
}
