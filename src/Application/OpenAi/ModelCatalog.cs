using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.OpenAi;

/// <summary>
/// The models a caller may name: the platform's default (the admins' <c>/model</c> where set, else configuration's)
/// and every model an online model host says it serves.
/// </summary>
public sealed class ModelCatalog(ChatModels models, IWorkerPresence presence)
{
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
