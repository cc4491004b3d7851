using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Embeddings.Commands;

/// <summary>
/// OpenAI's embeddings: the vectors of <paramref name="Inputs"/> (each a text) made by <paramref name="Model"/>,
/// <paramref name="Dimensions"/> long when given (only of a model that takes it). No chat: nothing of it is stored. It
/// costs what asking the model for an answer costs (the same buckets as a completion), and only one that is answered
/// counts — as the caller's embeddings usage too (<see cref="IUsageRecorder"/>: the texts and the tokens the hosts read).
/// </summary>
public sealed record CreateEmbeddings(IReadOnlyList<string> Inputs, string Model, int? Dimensions = null)
    : IRequest<EmbeddingsMade>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    public bool OnlySuccessCounts => true;
}

public sealed partial class CreateEmbeddingsHandler(
    UserAccess access, IEmbeddingRelay relay, PlatformMetrics metrics, IUsageRecorder usage, IClock clock,
    IOptions<OpenAiOptions> options, ILogger<CreateEmbeddingsHandler> logger)
    : IRequestHandler<CreateEmbeddings, EmbeddingsMade>
{
    public async Task<EmbeddingsMade> Handle(CreateEmbeddings request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        Check(request, options.Value);
        var made = await relay.EmbedAsync(new EmbeddingsAsked(request.Model, request.Inputs, request.Dimensions),
            cancellationToken);
        metrics.Embedded(request.Inputs.Count, made.PromptTokens);
        try
        {
            await usage.RecordAsync(new UsageFigure(user.Id.Value, clock.UtcNow, UsageKinds.Embeddings,
                request.Inputs.Count, made.PromptTokens, 0), CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogUsageFailed(logger, ex); // statistics: never at the cost of the vectors made
        }

        return made;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not count an embeddings call's usage")]
    private static partial void LogUsageFailed(ILogger logger, Exception exception);

    /// <summary>
    /// The caps: at least one input and at most <see cref="OpenAiOptions.MaxEmbeddingInputs"/>, none empty, all within
    /// <see cref="OpenAiOptions.MaxEmbeddingCharacters"/> together (400 naming <c>input</c>); a positive
    /// <c>dimensions</c>; a model name.
    /// </summary>
    public static void Check(CreateEmbeddings request, OpenAiOptions options)
    {
        ModelName.From(request.Model);

        if (request.Inputs.Count == 0)
        {
            throw new DomainException("'input' holds no text: give a string or an array of strings.",
                DomainErrorKind.Invalid, "input");
        }

        if (request.Inputs.Count > options.MaxEmbeddingInputs)
        {
            throw new DomainException(
                $"'input' holds {request.Inputs.Count} texts; at most {options.MaxEmbeddingInputs} are taken at once.",
                DomainErrorKind.Invalid, "input");
        }

        if (request.Inputs.Any(string.IsNullOrEmpty))
        {
            throw new DomainException("An 'input' text is empty; every text must hold something.",
                DomainErrorKind.Invalid, "input");
        }

        long characters = request.Inputs.Sum(i => (long)i.Length);
        if (characters > options.MaxEmbeddingCharacters)
        {
            throw new DomainException(
                $"'input' holds {characters} characters; at most {options.MaxEmbeddingCharacters} are taken at once.",
                DomainErrorKind.Invalid, "input");
        }

        if (request.Dimensions is <= 0 or > 65_536)
        {
            throw new DomainException("'dimensions' must be a whole number from 1 to 65536.",
                DomainErrorKind.Invalid, "dimensions");
        }
    }
}
