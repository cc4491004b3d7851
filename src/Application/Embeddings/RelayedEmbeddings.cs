using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.OpenAi;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Embeddings;

/// <summary>
/// Embeddings over the relay from this process: the inputs split into as many parts as the serving hosts have slots
/// (at most one part per input), each part sent as an <c>embed</c> to its host at once, and the vectors put back in the
/// inputs' order. A part whose host cannot make it now (draining, its engine lost or unavailable) goes once to another
/// host of the model.
/// </summary>
public sealed class RelayedEmbeddings(ModelCatalog catalog, EmbeddingCalls calls, IOptions<RelayOptions> options)
    : IEmbeddingRelay
{
    public async Task<EmbeddingsMade> EmbedAsync(EmbeddingsAsked asked, CancellationToken cancellationToken)
    {
        var serving = await catalog.RequireEmbeddingsAsync(asked.Model, asked.Dimensions, cancellationToken);
        var owners = SlotOwners(serving);
        var parts = Split(asked.Inputs.Count, owners.Count);
        var traceParent = System.Diagnostics.Activity.Current?.Id;
        var made = await Task.WhenAll(parts.Select((part, i) => PartAsync(asked, part, owners, i, traceParent,
            cancellationToken)));
        var vectors = made.SelectMany(m => m.Vectors).ToList();
        return new EmbeddingsMade(vectors, made.Sum(m => m.PromptTokens), made[0].Model ?? asked.Model,
            made[0].WorkerId);
    }

    /// <summary>
    /// The serving hosts' slots, taken in turns (the first slot of each host, then the second, …) so that a few parts
    /// spread over hosts before they fill one host's slots.
    /// </summary>
    private static List<(HostHealth Host, string? AsNamed, ModelCapacity Model)> SlotOwners(
        IReadOnlyList<(HostHealth Host, string? AsNamed, ModelCapacity Model)> serving)
    {
        var slots = serving.Select(h => Math.Clamp(h.Model.Slots ?? h.Host.Slots ?? 1, 1, 64)).ToList();
        var owners = new List<(HostHealth, string?, ModelCapacity)>();
        for (var turn = 0; turn < slots.Max(); turn++)
        {
            owners.AddRange(serving.Where((_, i) => slots[i] > turn));
        }

        return owners;
    }

    /// <summary>
    /// The most inputs one <c>embed</c> carries: its vectors come back in one envelope, which must stay well inside a
    /// Discord attachment (25 MB) even for wide models (64 × 4,096 floats ≈ 1.4 MB in base64).
    /// </summary>
    internal const int MaxInputsPerPart = 64;

    /// <summary>
    /// <paramref name="count"/> inputs in runs of nearly equal length: one per slot (<paramref name="slots"/>), or more
    /// when that would put over <see cref="MaxInputsPerPart"/> in one; never an empty one.
    /// </summary>
    internal static IReadOnlyList<Range> Split(int count, int slots)
    {
        var parts = Math.Max(1, Math.Min(count, Math.Max(slots, (count + MaxInputsPerPart - 1) / MaxInputsPerPart)));
        var ranges = new List<Range>(parts);
        var start = 0;
        for (var i = 0; i < parts; i++)
        {
            var length = (count / parts) + (i < count % parts ? 1 : 0);
            ranges.Add(new Range(start, start + length));
            start += length;
        }

        return ranges;
    }

    private async Task<(IReadOnlyList<float[]> Vectors, int PromptTokens, string? Model, Guid WorkerId)> PartAsync(
        EmbeddingsAsked asked, Range part, List<(HostHealth Host, string? AsNamed, ModelCapacity Model)> owners, int index,
        string? traceParent, CancellationToken cancellationToken)
    {
        var inputs = asked.Inputs.Take(part).ToList();
        var owner = owners[index % owners.Count];
        for (var attempt = 0; ; attempt++)
        {
            // Only a model that takes them is sent dimensions (one that gives its own length was asked for that).
            var body = new EmbedBody(owner.AsNamed, inputs, owner.Model.Dimensions ? asked.Dimensions : null,
                owner.Host.WorkerId, traceParent);
            RelayEnvelope answer;
            try
            {
                answer = await calls.CallAsync(body, options.Value.CompletionTimeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new ServiceUnavailableException("The model host did not make the embeddings in time; try again.",
                    ModelCatalog.NoHostRetryAfter);
            }

            if (answer.Type == EnvelopeType.Vectors && Read(answer, inputs.Count) is { } vectors)
            {
                return (vectors.Vectors, vectors.PromptTokens, vectors.Model, owner.Host.WorkerId);
            }

            var error = answer.Type == EnvelopeType.Error ? TryRead<ErrorBody>(answer) : null;
            var another = owners.FirstOrDefault(o => o.Host.WorkerId != owner.Host.WorkerId);
            if (attempt == 0 && another.Host is not null && error?.Code is RelayErrorCodes.Draining
                    or RelayErrorCodes.EngineLost or RelayErrorCodes.EngineUnavailable or RelayErrorCodes.Shutdown)
            {
                owner = another;
                continue;
            }

            if (error?.Code == RelayErrorCodes.InputRefused)
            {
                throw new DomainException($"The model could not embed the input: {error.Message}.", DomainErrorKind.Invalid,
                    "input");
            }

            throw new ServiceUnavailableException(
                $"The model host could not make the embeddings: {error?.Message ?? "its answer was malformed"}.",
                ModelCatalog.NoHostRetryAfter);
        }
    }

    /// <summary>The vectors of an answer; null when they are not one vector of floats per input.</summary>
    private static (IReadOnlyList<float[]> Vectors, int PromptTokens, string? Model)? Read(RelayEnvelope answer, int inputs)
    {
        if (TryRead<VectorsBody>(answer) is not { Vectors: { } texts } body || texts.Count != inputs)
        {
            return null;
        }

        var vectors = new List<float[]>(texts.Count);
        foreach (var text in texts)
        {
            if (EmbeddingVectors.FromBase64(text) is not { Length: > 0 } vector)
            {
                return null;
            }

            vectors.Add(vector);
        }

        return (vectors, Math.Max(0, body.PromptTokens), body.Model is { } model && Domain.Common.ModelName.IsValid(model) ? model : null);
    }

    private static T? TryRead<T>(RelayEnvelope envelope)
        where T : class
    {
        try
        {
            return RelayJson.FromBody<T>(envelope);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
