using System.Net.Http.Headers;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// One llama-server run that became ready: where it listens, the key it demands, its number (1, 2, …), and what its
/// model can do.
/// </summary>
internal sealed record LlamaServerRun(Uri BaseAddress, string ApiKey, int Number)
{
    /// <summary>Whether its model writes tool calls.</summary>
    public bool TakesTools { get; init; }

    /// <summary>The vector length of an embedding model (null: not one, or not known).</summary>
    public int? EmbeddingWidth { get; init; }

    /// <summary>A request to <paramref name="path"/> on this run, carrying its key.</summary>
    public HttpRequestMessage Request(HttpMethod method, string path) => new(method, new Uri(BaseAddress, path))
    {
        Headers = { Authorization = new AuthenticationHeaderValue("Bearer", ApiKey) },
    };
}
