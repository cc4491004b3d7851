namespace MeatLizard.Application.Abstractions;

/// <summary>Inputs to turn into vectors with a model, as the caller named it (checked, within the caps).</summary>
public sealed record EmbeddingsAsked(string Model, IReadOnlyList<string> Inputs, int? Dimensions);

/// <summary>
/// The vectors, one per input in their order, the tokens the hosts read, the model as they named it, and the host that
/// made the first part (the metric's host).
/// </summary>
public sealed record EmbeddingsMade(IReadOnlyList<float[]> Vectors, int PromptTokens, string Model, Guid? WorkerId);

/// <summary>
/// The way to the model hosts for embeddings: in the process that runs the relay server it sends them itself
/// (<see cref="Embeddings.RelayedEmbeddings"/>); an API instance beside a server bot asks the server bot.
/// </summary>
public interface IEmbeddingRelay
{
    /// <summary>
    /// The vectors of <paramref name="asked"/>. Refuses (400 naming <c>model</c> or <c>dimensions</c>, 404, 503) as
    /// <see cref="OpenAi.ModelCatalog.RequireEmbeddingsAsync"/> does; a host that fails or does not answer in time is a
    /// <see cref="Common.Exceptions.ServiceUnavailableException"/>.
    /// </summary>
    Task<EmbeddingsMade> EmbedAsync(EmbeddingsAsked asked, CancellationToken cancellationToken);
}
