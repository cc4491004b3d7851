using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// How many tokens the model makes of a text (llama-server's <c>/tokenize</c>), remembered by the text's SHA-256 (no
/// chat text is kept): a conversation's earlier turns come again with every new one, and the count is the same for
/// every run, since they all load the same model. Estimated if llama-server cannot say.
/// </summary>
internal sealed partial class LlamaServerTokenCounter(HttpClient http, ILogger logger)
{
    private const int MaxCountsKept = 4096;

    private readonly CountedMap<string, int> _counts = new(StringComparer.Ordinal);

    public async ValueTask<int> CountAsync(LlamaServerRun run, string text, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        if (_counts.TryGetValue(key, out var known))
        {
            return known;
        }

        int count;
        try
        {
            count = await TokenizeAsync(run, text, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or KeyNotFoundException
                                       or InvalidOperationException)
        {
            // The answer request that follows will say what is wrong with llama-server; the estimate does till then.
            LogTokenizeFailed(logger, ex.GetType().Name);
            return ChatPrompt.EstimateTokens(text);
        }

        if (_counts.Count >= MaxCountsKept)
        {
            _counts.Clear();
        }

        _counts[key] = count;
        return count;
    }

    private async Task<int> TokenizeAsync(LlamaServerRun run, string text, CancellationToken cancellationToken)
    {
        using var tokenize = run.Request(HttpMethod.Post, "tokenize");
        tokenize.Content = new StringContent(new JsonObject { ["content"] = text }.ToJsonString(), Encoding.UTF8,
            "application/json");
        using var response = await http.SendAsync(tokenize, cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
        return document.RootElement.GetProperty("tokens").GetArrayLength();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "llama-server could not count a prompt's tokens ({ErrorType}); estimated instead")]
    private static partial void LogTokenizeFailed(ILogger logger, string errorType);
}
