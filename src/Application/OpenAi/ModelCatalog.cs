using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Hosts;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.OpenAi;

/// <summary>
/// The models a caller may name: the platform's default (the admins' <c>/model</c> where set, else configuration's)
/// and every model an online model host says it serves. Hosts that may only be hidden by an outage of the way to them,
/// or late with a heartbeat, still count (<see cref="HostsOnline"/>): their questions wait for them in the queue.
/// </summary>
public sealed class ModelCatalog(ChatModels models, HostsOnline online, Relay.ModelHosts hosts)
{
    /// <summary>What a client that finds no model host is told to wait before trying again.</summary>
    public static readonly TimeSpan NoHostRetryAfter = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Refuses a question for <paramref name="model"/> when no one may name it (404 naming the models there are), no
    /// model host takes work now (503 with Retry-After), or it gives <paramref name="tools"/> and no online host's
    /// <paramref name="model"/> takes them (400 naming <c>tools</c>), or the question holds images (<paramref name="images"/>
    /// names the first one's part) and no online host's <paramref name="model"/> takes images (400 naming that part).
    /// </summary>
    public async Task RequireAnswerableAsync(string model, CancellationToken cancellationToken, bool tools = false,
        string? images = null)
    {
        // One read of the hosts and the default for all three checks: this is on every completion's path.
        var listed = await online.ListAsync(cancellationToken);
        var defaultModel = await DefaultAsync(cancellationToken);
        var known = Names(defaultModel, listed);
        if (!known.Contains(model, StringComparer.Ordinal))
        {
            throw Common.Exceptions.NotFoundException.Model(model, known);
        }

        if (!listed.Any(h => h.Accepts && hosts.Judges(h.WorkerId)))
        {
            throw new Common.Exceptions.ServiceUnavailableException("No model host is online to answer; try again shortly.",
                NoHostRetryAfter);
        }

        if (tools && !Serving(model, defaultModel, listed).Any(h => h.Host.TakesToolsFor(h.AsNamed)))
        {
            throw new Domain.Common.DomainException(
                $"The model '{model}' does not take tools (function calling) on any model host online now.",
                Domain.Common.DomainErrorKind.Invalid, "tools");
        }

        if (images is not null)
        {
            RequireImages(model, defaultModel, listed, images);
        }
    }

    /// <summary>
    /// Refuses a question with images for <paramref name="model"/> (the default when null) when no online host's
    /// <paramref name="model"/> takes images: a 400 naming <paramref name="param"/>, the first image's field.
    /// </summary>
    public async Task RequireImagesAsync(string? model, string param, CancellationToken cancellationToken)
    {
        var defaultModel = await DefaultAsync(cancellationToken);
        RequireImages(model ?? defaultModel, defaultModel, await online.ListAsync(cancellationToken), param);
    }

    private static void RequireImages(string model, string defaultModel, IReadOnlyList<HostHealth> listed, string param)
    {
        if (!Serving(model, defaultModel, listed).Any(h => h.Host.TakesImagesFor(h.AsNamed)))
        {
            throw new Domain.Common.DomainException(
                $"The model '{model}' does not take images on any model host online now; send text, or name a vision model.",
                Domain.Common.DomainErrorKind.Invalid, param);
        }
    }

    /// <summary>
    /// The online hosts that make embeddings with <paramref name="model"/>, each with the name it goes to them with and
    /// what they say of it. Refuses as <see cref="RequireAnswerableAsync"/> does (404, 503), and with a 400 naming
    /// <c>model</c> when no host online makes embeddings with it, or <c>dimensions</c> when they are asked of a model
    /// that gives only its own length.
    /// </summary>
    public async Task<IReadOnlyList<(HostHealth Host, string? AsNamed, ModelCapacity Model)>> RequireEmbeddingsAsync(
        string model, int? dimensions, CancellationToken cancellationToken)
    {
        await RequireAnswerableAsync(model, cancellationToken);
        var serving = Serving(model, await DefaultAsync(cancellationToken), await online.ListAsync(cancellationToken))
            .Where(h => h.Host.TakesWork && hosts.Judges(h.Host.WorkerId))
            .Select(h => (h.Host, h.AsNamed, Model: h.Host.EmbeddingsOf(h.AsNamed)!))
            .Where(h => h.Model is not null)
            .ToList();
        if (serving.Count == 0)
        {
            throw new Domain.Common.DomainException(
                $"The model '{model}' makes no embeddings on any model host online now; name an embedding model.",
                Domain.Common.DomainErrorKind.Invalid, "model");
        }

        if (dimensions is { } asked && !serving.All(h => h.Model.Dimensions || h.Model.EmbeddingWidth == asked))
        {
            throw new Domain.Common.DomainException(
                $"The model '{model}' gives vectors of its own length only; leave 'dimensions' out.",
                Domain.Common.DomainErrorKind.Invalid, "dimensions");
        }

        return serving;
    }

    /// <summary>The default first, then the hosts' models in name order, each once.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken) =>
        Names(await DefaultAsync(cancellationToken), await online.ListAsync(cancellationToken));

    /// <summary>Every model a caller may name (<see cref="ListAsync"/>), with what the online hosts say of it.</summary>
    public async Task<IReadOnlyList<ModelInfo>> DescribeAsync(CancellationToken cancellationToken)
    {
        var hosts = await online.ListAsync(cancellationToken);
        var defaultModel = await DefaultAsync(cancellationToken);
        return Names(defaultModel, hosts).Select(name =>
        {
            var serving = Serving(name, defaultModel, hosts);
            var contexts = serving.Select(h => h.Host.ModelDetails?.FirstOrDefault(m => m.Name == h.Host.ModelFor(h.AsNamed))
                ?.ContextSize).OfType<int>().ToList();
            return new ModelInfo(name, name == defaultModel, serving.Count, contexts.Count > 0 ? contexts.Max() : null,
                serving.Any(h => h.Host.TakesToolsFor(h.AsNamed)))
            {
                Embeddings = serving.Any(h => h.Host.EmbeddingsOf(h.AsNamed) is not null),
                Vision = serving.Any(h => h.Host.TakesImagesFor(h.AsNamed)),
            };
        }).ToList();
    }

    private static List<string> Names(string defaultModel, IReadOnlyList<HostHealth> hosts) =>
        [.. new[] { defaultModel }.Concat(hosts.SelectMany(h => h.Models ?? []).Order(StringComparer.Ordinal))
            .Distinct(StringComparer.Ordinal)];

    /// <summary>
    /// The online hosts that take work and serve <paramref name="model"/>, each with the name a request for it goes to
    /// that host with: the model's, or null (the host's default) when it is the platform's default and no host names it.
    /// </summary>
    private static List<(HostHealth Host, string? AsNamed)> Serving(string model, string defaultModel,
        IReadOnlyList<HostHealth> hosts)
    {
        var accepting = hosts.Where(h => h.Accepts).ToList();
        var asNamed = model == defaultModel && !accepting.Any(h => h.Models?.Contains(model, StringComparer.Ordinal) == true)
            ? null
            : model;
        return [.. accepting.Where(h => h.Serves(asNamed)).Select(h => (h, asNamed))];
    }

    public async Task<string> DefaultAsync(CancellationToken cancellationToken) => await models.DefaultAsync(cancellationToken);
}

/// <summary>
/// A model a caller may name: whether it is the platform's default, how many online hosts serve it, the longest context
/// one of them gives it (null when none says), and whether one takes tools (function calling) with it.
/// </summary>
public sealed record ModelInfo(string Name, bool IsDefault, int Hosts, int? ContextLength, bool Tools)
{
    /// <summary>An online host makes embeddings with it.</summary>
    public bool Embeddings { get; init; }

    /// <summary>An online host takes images with it.</summary>
    public bool Vision { get; init; }
}
