namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Texts to turn into vectors: <paramref name="Model"/> names the model (null: the host's first), and
/// <paramref name="Dimensions"/> the vector length asked for (null: the model's own), only sent to a model that allows it.
/// </summary>
public sealed record EmbeddingRequest(Guid RequestId, string? Model, IReadOnlyList<string> Inputs, int? Dimensions = null);

/// <summary>One vector per input, in the inputs' order, and the tokens the engine read.</summary>
public sealed record EmbeddingResult(IReadOnlyList<float[]> Vectors, int PromptTokens);

/// <summary>
/// What an engine says of one model it makes embeddings with: the vector length it gives (null when it does not know)
/// and whether it takes OpenAI's <c>dimensions</c> (a shorter vector asked for). An engine of one model that does not
/// know the host's name for it names it "": the host's (first) model.
/// </summary>
public sealed record EmbeddingModel(string Name, int? Width = null, bool Dimensions = false);

/// <summary>
/// An engine that makes embeddings, for the models its health names (<see cref="EngineHealth.Embeddings"/>). Throws
/// <see cref="InferenceFailedException"/> with a message safe to show when it cannot.
/// </summary>
public interface IEmbeddingEngine
{
    Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken);
}
