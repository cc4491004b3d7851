using MeatLizard.Application.Common;
using MeatLizard.Application.OpenAi.Commands;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Messages;

/// <summary>
/// A message's images as a client sends them, <c>data:</c> URLs, read the one way for every way in (OpenAI's
/// <c>image_url</c> parts, the web app's send): PNG, JPEG, WebP or GIF, the format read from the bytes (a declared type
/// the bytes contradict is refused), within the caps of <see cref="OpenAiOptions"/>. A remote URL is refused: this
/// server fetches nothing on a caller's behalf. Every refusal is a 400 naming the image's field.
/// </summary>
public sealed class ImageDataUrls(OpenAiOptions caps)
{
    private readonly List<ImageInput> _read = [];
    private long _bytes;

    /// <summary>Reads the image <paramref name="url"/>, sent as the field <paramref name="param"/> (<c>images[0]</c>).</summary>
    public ImageInput Read(string? url, string param)
    {
        if (_read.Count >= caps.MaxImagesPerMessage)
        {
            throw Refused($"A message holds at most {caps.MaxImagesPerMessage} images here.", param);
        }

        if (url is null)
        {
            throw Refused("An image is a data: URL (data:image/png;base64,...).", param);
        }

        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
            || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            throw Refused(
                "Images are taken as data: URLs only (data:image/png;base64,...): this server fetches nothing from the web.",
                param);
        }

        var (declared, data) = Decode(url, param);
        var header = ImageHeader.Read(data)
                     ?? throw Refused("The image is not a PNG, JPEG, WebP or GIF (its bytes say so, whatever its type).", param);
        if (!string.Equals(declared, header.MediaType, StringComparison.OrdinalIgnoreCase)
            && !(declared == "image/jpg" && header.MediaType == "image/jpeg"))
        {
            throw Refused($"The image is declared '{declared}' but its bytes are {header.MediaType}.", param);
        }

        if ((long)header.Width * header.Height > caps.MaxImagePixels)
        {
            throw Refused(
                $"The image has {header.Width}×{header.Height} pixels; at most {caps.MaxImagePixels} are taken.", param);
        }

        _bytes += data.Length;
        if (_bytes > caps.MaxImageBytes)
        {
            throw Refused($"The images of a message hold at most {caps.MaxImageBytes} bytes together.", param);
        }

        var input = new ImageInput(param, data, header);
        _read.Add(input);
        return input;
    }

    /// <summary>Reads every image of one message, each named <c>{field}[i]</c>.</summary>
    public static IReadOnlyList<ImageInput> ReadAll(IReadOnlyList<string?>? urls, string field, OpenAiOptions caps)
    {
        if (urls is not { Count: > 0 })
        {
            return [];
        }

        var images = new ImageDataUrls(caps);
        for (var i = 0; i < urls.Count; i++)
        {
            images.Read(urls[i], $"{field}[{i}]");
        }

        return images.TakeMessage();
    }

    /// <summary>The images read so far, and starts the next message's count.</summary>
    public IReadOnlyList<ImageInput> TakeMessage()
    {
        var read = _read.ToList();
        _read.Clear();
        _bytes = 0;
        return read;
    }

    private static DomainException Refused(string message, string param) =>
        new(message, DomainErrorKind.Invalid, param);

    private static (string MediaType, byte[] Data) Decode(string url, string param)
    {
        const string scheme = "data:";
        var comma = url.IndexOf(',', StringComparison.Ordinal);
        if (!url.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || comma < 0)
        {
            throw Refused("An image is a data: URL (data:image/png;base64,...).", param);
        }

        var meta = url[scheme.Length..comma].Split(';');
        if (!meta[^1].Equals("base64", StringComparison.OrdinalIgnoreCase) || meta.Length < 2)
        {
            throw Refused("An image's data: URL holds its media type and base64 bytes.", param);
        }

        var mediaType = meta[0].ToLowerInvariant();
        if (!ImageHeader.MediaTypes.Contains(mediaType) && mediaType != "image/jpg")
        {
            throw Refused($"Images are PNG, JPEG, WebP or GIF, not '{meta[0]}'.", param);
        }

        try
        {
            return (mediaType, Convert.FromBase64String(url[(comma + 1)..]));
        }
        catch (FormatException)
        {
            throw Refused("The image's data: URL does not hold valid base64.", param);
        }
    }
}

