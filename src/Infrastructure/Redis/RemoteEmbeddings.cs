using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Embeddings;
using MeatLizard.Application.OpenAi;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// <see cref="IEmbeddingRelay"/> of an API instance beside a server bot: the model and hosts are checked here (the same
/// refusals as in one process, at once), then the relay server that claims the call over Redis
/// (<see cref="RedisRelayControl.EmbedAsync"/>) sends the embeds to the hosts over its transport and replies with the
/// vectors.
/// </summary>
public sealed class RemoteEmbeddings(ModelCatalog catalog, RedisRelayControl relay, IOptions<RelayOptions> options)
    : IEmbeddingRelay
{
    /// <summary>Beyond the hosts' own deadline: the relay server's turn on Redis both ways.</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(10);

    public async Task<EmbeddingsMade> EmbedAsync(EmbeddingsAsked asked, CancellationToken cancellationToken)
    {
        await catalog.RequireEmbeddingsAsync(asked.Model, asked.Dimensions, cancellationToken);
        var reply = await relay.EmbedAsync(asked, options.Value.CompletionTimeout + Margin, cancellationToken);
        if (reply.Vectors is not { } texts)
        {
            throw reply.ErrorStatus == 400
                ? new DomainException(reply.Error ?? "The request was refused.", DomainErrorKind.Invalid, reply.ErrorParam)
                : new ServiceUnavailableException(reply.Error ?? "The embeddings could not be made; try again.",
                    ModelCatalog.NoHostRetryAfter);
        }

        var vectors = texts.Select(EmbeddingVectors.FromBase64).ToList();
        if (vectors.Count != asked.Inputs.Count || vectors.Any(v => v is not { Length: > 0 }))
        {
            throw new ServiceUnavailableException("The relay server's reply held malformed vectors; try again.",
                ModelCatalog.NoHostRetryAfter);
        }

        return new EmbeddingsMade(vectors!, reply.PromptTokens, reply.Model ?? asked.Model, reply.WorkerId);
    }
}
