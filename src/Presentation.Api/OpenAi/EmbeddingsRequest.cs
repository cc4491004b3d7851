using System.Text.Json;
using MeatLizard.Application.Embeddings.Commands;

namespace MeatLizard.Presentation.Api.OpenAi;

/// <summary>
/// A <c>POST /v1/embeddings</c> body as OpenAI's reference describes it: <c>input</c> (a string or an array of strings;
/// token arrays are refused, the model hosts take text), <c>model</c>, <c>encoding_format</c> (<c>float</c>, the
/// default, or <c>base64</c>), <c>dimensions</c> and <c>user</c> (read and checked, not used: every call is already its
/// key's user). Anything else is refused naming it.
/// </summary>
public sealed record EmbeddingsRequest(CreateEmbeddings Command, bool Base64)
{
    public static EmbeddingsRequest Read(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new ChatCompletionRequest.Refused("The request body is a JSON object.", null);
        }

        IReadOnlyList<string>? input = null;
        string? model = null;
        int? dimensions = null;
        var base64 = false;
        foreach (var property in body.EnumerateObject())
        {
            var value = property.Value;
            var name = property.Name;
            if (value.ValueKind == JsonValueKind.Null && name is not ("input" or "model"))
            {
                continue; // null is "not given" for every optional parameter
            }

            switch (name)
            {
                case "input":
                    input = Input(value);
                    break;
                case "model":
                    model = value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } m
                        ? m
                        : throw new ChatCompletionRequest.Refused("'model' names an embedding model (see GET /v1/models).", name);
                    break;
                case "encoding_format":
                    base64 = value.ValueKind == JsonValueKind.String && value.GetString() is "float" or "base64"
                        ? value.GetString() == "base64"
                        : throw new ChatCompletionRequest.Refused("'encoding_format' is \"float\" or \"base64\".", name);
                    break;
                case "dimensions":
                    dimensions = value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var d) && d >= 1
                        ? d
                        : throw new ChatCompletionRequest.Refused("'dimensions' is a whole number of at least 1.", name);
                    break;
                case "user":
                    // OpenAI's end-user id for abuse monitoring; here every call is already its key's user.
                    _ = value.ValueKind == JsonValueKind.String
                        ? true
                        : throw new ChatCompletionRequest.Refused("'user' is a string.", name);
                    break;
                default:
                    throw new ChatCompletionRequest.Refused($"The parameter '{name}' is not supported here.", name);
            }
        }

        if (input is null)
        {
            throw new ChatCompletionRequest.Refused("'input' is required: a string, or an array of strings.", "input");
        }

        if (model is null)
        {
            throw new ChatCompletionRequest.Refused("'model' is required: an embedding model (see GET /v1/models).", "model");
        }

        return new EmbeddingsRequest(new CreateEmbeddings(input, model, dimensions), base64);
    }

    /// <summary>The texts of <c>input</c>: a string, or an array of strings; token arrays are refused.</summary>
    private static List<string> Input(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return [value.GetString()!];
            case JsonValueKind.Array:
                var texts = new List<string>(value.GetArrayLength());
                foreach (var item in value.EnumerateArray())
                {
                    texts.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => item.GetString()!,
                        JsonValueKind.Number or JsonValueKind.Array => throw new ChatCompletionRequest.Refused(
                            "'input' is text: token arrays are not supported here; send the strings.", "input"),
                        _ => throw new ChatCompletionRequest.Refused("'input' is a string or an array of strings.", "input"),
                    });
                }

                return texts;
            default:
                throw new ChatCompletionRequest.Refused("'input' is a string or an array of strings.", "input");
        }
    }
}
