using System.Text.Json;
using MeatLizard.Application.Common;
using MeatLizard.Application.OpenAi.Commands;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Presentation.Api.OpenAi;

/// <summary>
/// OpenAI's <c>image_url</c> content parts, read: only <c>data:</c> URLs of PNG, JPEG, WebP or GIF, the format read from
/// the bytes (a declared type the bytes contradict is refused), within the caps of <see cref="OpenAiOptions"/>. A remote
/// URL is refused: this server fetches nothing on a caller's behalf. Every refusal names the part
/// (<c>messages[1].content[0].image_url</c>).
/// </summary>
public sealed class ImageParts(OpenAiOptions caps)
{
    private readonly List<ImageInput> _read = [];
    private long _bytes;

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

        if (_read.Count >= caps.MaxImagesPerMessage)
        {
            throw new ChatCompletionRequest.Refused(
                $"A message holds at most {caps.MaxImagesPerMessage} images here.", param);
        }

        var url = urlValue.GetString()!;
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
            || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            throw new ChatCompletionRequest.Refused(
                "Images are taken as data: URLs only (data:image/png;base64,...): this server fetches nothing from the web.",
                param);
        }

        var (declared, data) = Decode(url, param);
        var header = ImageHeader.Read(data)
                     ?? throw new ChatCompletionRequest.Refused(
                         "The image is not a PNG, JPEG, WebP or GIF (its bytes say so, whatever its type).", param);
        if (!string.Equals(declared, header.MediaType, StringComparison.OrdinalIgnoreCase)
            && !(declared == "image/jpg" && header.MediaType == "image/jpeg"))
        {
            throw new ChatCompletionRequest.Refused(
                $"The image is declared '{declared}' but its bytes are {header.MediaType}.", param);
        }

        if ((long)header.Width * header.Height > caps.MaxImagePixels)
        {
            throw new ChatCompletionRequest.Refused(
                $"The image has {header.Width}×{header.Height} pixels; at most {caps.MaxImagePixels} are taken.", param);
        }

        _bytes += data.Length;
        if (_bytes > caps.MaxImageBytes)
        {
            throw new ChatCompletionRequest.Refused(
                $"The images of a message hold at most {caps.MaxImageBytes} bytes together.", param);
        }

        var input = new ImageInput(param, data, header);
        _read.Add(input);
        return input;
    }

    /// <summary>The images read so far, and starts the next message's count.</summary>
    public IReadOnlyList<ImageInput> TakeMessage()
    {
        var read = _read.ToList();
        _read.Clear();
        _bytes = 0;
        return read;
    }

    private static (string MediaType, byte[] Data) Decode(string url, string param)
    {
        const string scheme = "data:";
        var comma = url.IndexOf(',', StringComparison.Ordinal);
        if (!url.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || comma < 0)
        {
            throw new ChatCompletionRequest.Refused("An image is a data: URL (data:image/png;base64,...).", param);
        }

        var meta = url[scheme.Length..comma].Split(';');
        if (!meta[^1].Equals("base64", StringComparison.OrdinalIgnoreCase) || meta.Length < 2)
        {
            throw new ChatCompletionRequest.Refused("An image's data: URL holds its media type and base64 bytes.", param);
        }

        var mediaType = meta[0].ToLowerInvariant();
        if (!ImageHeader.MediaTypes.Contains(mediaType) && mediaType != "image/jpg")
        {
            throw new ChatCompletionRequest.Refused(
                $"Images are PNG, JPEG, WebP or GIF, not '{meta[0]}'.", param);
        }

        try
        {
            return (mediaType, Convert.FromBase64String(url[(comma + 1)..]));
        }
        catch (FormatException)
        {
            throw new ChatCompletionRequest.Refused("The image's data: URL does not hold valid base64.", param);
        }
    }
}
