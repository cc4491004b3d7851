using System.Text.Json;
using MeatLizard.Application.Common;
using MeatLizard.Application.Messages;
using MeatLizard.Application.OpenAi.Commands;
using MeatLizard.Domain.Common;

namespace MeatLizard.Presentation.Api.OpenAi;

/// <summary>
/// OpenAI's <c>image_url</c> content parts, read: the part's shape here, its <c>data:</c> URL as every way in reads
/// one (<see cref="ImageDataUrls"/>). Every refusal names the part (<c>messages[1].content[0].image_url</c>).
/// </summary>
public sealed class ImageParts(OpenAiOptions caps)
{
    private readonly ImageDataUrls _urls = new(caps);

    /// <summary>Reads one <c>image_url</c> part found at <paramref name="at"/> (<c>messages[i].content[j]</c>).</summary>
    public ImageInput Read(JsonElement part, string at)
    {
        var param = $"{at}.image_url";
        if (!part.TryGetProperty("image_url", out var image) || image.ValueKind != JsonValueKind.Object
            || !image.TryGetProperty("url", out var urlValue) || urlValue.ValueKind != JsonValueKind.String)
        {
            throw new ChatCompletionRequest.Refused("An image part holds 'image_url.url', a data: URL.", param);
        }

        if (image.TryGetProperty("detail", out var detail) && detail.ValueKind != JsonValueKind.Null
            && (detail.ValueKind != JsonValueKind.String || detail.GetString() is not ("auto" or "low" or "high")))
        {
            throw new ChatCompletionRequest.Refused("'image_url.detail' is auto, low or high.", $"{param}.detail");
        }

        try
        {
            return _urls.Read(urlValue.GetString(), param);
        }
        catch (DomainException refused)
        {
            throw new ChatCompletionRequest.Refused(refused.Message, refused.Field);
        }
    }

    /// <summary>The images read so far, and starts the next message's count.</summary>
    public IReadOnlyList<ImageInput> TakeMessage() => _urls.TakeMessage();
}
