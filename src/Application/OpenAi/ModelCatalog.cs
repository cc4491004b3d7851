using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.OpenAi;

/// <summary>
/// The models a caller may name: the platform's default (the admins' <c>/model</c> where set, else configuration's)
/// and every model an online model host says it serves.
/// </summary>
public sealed class ModelCatalog(ChatModels models, IWorkerPresence presence, Relay.ModelHosts hosts)
{
    /// <summary>What a client that finds no model host is told to wait before trying again.</summary>
    public static readonly TimeSpan NoHostRetryAfter = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Refuses a question for <paramref name="model"/> when no one may name it (404 naming the models there are) or no
    /// model host takes work now (503 with Retry-After).
    /// </summary>
    public async Task RequireAnswerableAsync(string model, CancellationToken cancellationToken)
    {
        var known = await ListAsync(cancellationToken);
        if (!known.Contains(model, StringComparer.Ordinal))
        {
            throw Common.Exceptions.NotFoundException.Model(model, known);
        }

        if (!await hosts.AnyAcceptsAsync(cancellationToken))
        {
            throw new Common.Exceptions.ServiceUnavailableException("No model host is online to answer; try again shortly.",
                NoHostRetryAfter);
        }
    }

    /// <summary>The default first, then the hosts' models in name order, each once.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken)
    {
        var names = new List<string> { await DefaultAsync(cancellationToken) };
        var hosts = await presence.ListAliveAsync(cancellationToken);
        names.AddRange(hosts.SelectMany(h => h.Models ?? []).Order(StringComparer.Ordinal));
        return names.Distinct(StringComparer.Ordinal).ToList();
    }

    public async Task<string> DefaultAsync(CancellationToken cancellationToken) => await models.DefaultAsync(cancellationToken);
}
