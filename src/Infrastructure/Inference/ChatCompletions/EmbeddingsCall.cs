using System.Text;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Embeddings;

namespace MeatLizard.Infrastructure.Inference.ChatCompletions;

/// <summary>
/// One call to an OpenAI-style <c>/v1/embeddings</c> (llama-server's, or an upstream's): the texts in, asked as base64
/// (exact and compact; numbers are read too), the vectors back by index with the tokens read. Failures carry the
/// server's own error message (<paramref name="server"/> names it), never the inputs; a server out of reach or failing
/// with a 5xx or 429 is <see cref="InferenceFailedException.Unavailable"/>.
/// </summary>
public static class EmbeddingsCall
{
    private const int MaxErrorLength = 300;

    /// <param name="newRequest">A POST to the embeddings endpoint, authorized; its content is set here.</param>
    public static async Task<EmbeddingResult> PostAsync(
        HttpClient http, Func<HttpRequestMessage> newRequest, string server, string? model, EmbeddingRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(newRequest);
        ArgumentNullException.ThrowIfNull(request);
        using var message = newRequest();
        message.Content = new StringContent(Body(model, request), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(message, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new InferenceFailedException($"{server} could not be reached ({ex.HttpRequestError}).", ex) { Unavailable = true };
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var status = (int)response.StatusCode;
                var refusedInput = RefusesTheInput(status, text);
                throw new InferenceFailedException($"{server} refused the embeddings ({status}): {ErrorMessage(text)}")
                {
                    Unavailable = !refusedInput && status is >= 500 or 429,
                    InputRefused = refusedInput,
                };
            }

            return Read(text, request.Inputs.Count, server);
        }
    }

    private static string Body(string? model, EmbeddingRequest request)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (model is not null)
            {
                json.WriteString("model", model);
            }

            json.WriteStartArray("input");
            foreach (var input in request.Inputs)
            {
                json.WriteStringValue(input);
            }

            json.WriteEndArray();
            json.WriteString("encoding_format", "base64");
            if (request.Dimensions is { } dimensions)
            {
                json.WriteNumber("dimensions", dimensions);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The vectors of an answer, put in order by their index; every input must have one.</summary>
    internal static EmbeddingResult Read(string text, int inputs, string server)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            var vectors = new float[inputs][];
            foreach (var item in root.GetProperty("data").EnumerateArray())
            {
                var index = item.TryGetProperty("index", out var i) ? i.GetInt32() : -1;
                var embedding = item.GetProperty("embedding");
                var vector = embedding.ValueKind == JsonValueKind.String
                    ? EmbeddingVectors.FromBase64(embedding.GetString()!)
                    : [.. embedding.EnumerateArray().Select(v => v.GetSingle())];
                if (index < 0 || index >= inputs || vector is not { Length: > 0 } || vectors[index] is not null)
                {
                    throw new InferenceFailedException($"{server} answered the embeddings with a malformed vector.");
                }

                vectors[index] = vector;
            }

            if (vectors.Any(v => v is null))
            {
                throw new InferenceFailedException($"{server} answered fewer vectors than it was given inputs.");
            }

            var tokens = root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
                         && usage.TryGetProperty("prompt_tokens", out var prompt) && prompt.TryGetInt32(out var count)
                ? count
                : 0;
            return new EmbeddingResult(vectors, tokens);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InferenceFailedException($"{server} answered the embeddings in a shape not understood.", ex);
        }
    }

    /// <summary>
    /// Whether a refusal is of the input itself: a 400, 413 or 422 (OpenAI's and llama-server's words for an input too
    /// long for the model's context), or llama-server's 500 for an embedding input longer than its physical batch
    /// ("input (6401 tokens) is too large to process. increase the physical batch size", sent as a server error).
    /// </summary>
    internal static bool RefusesTheInput(int status, string body) =>
        status is 400 or 413 or 422
        || (status == 500 && ErrorMessage(body).Contains("is too large to process", StringComparison.Ordinal));

    private static string ErrorMessage(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.TryGetProperty("error", out var error))
            {
                var message = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m)
                    ? m.GetString()
                    : error.ToString();
                return Cut(message ?? "");
            }
        }
        catch (JsonException)
        {
        }

        return Cut(body);
    }

    private static string Cut(string text) => text.Length <= MaxErrorLength ? text : text[..MaxErrorLength] + "…";
}
