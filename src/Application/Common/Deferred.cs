using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Application.Common;

/// <summary>
/// <c>Lazy&lt;T&gt;</c> of a service: made on first use, in the scope of whoever asked for it. For collaborators only a
/// rare path needs — a send that fails, a question of tool results, a request that ends other than answered — so a
/// request that does not take that path does not build them and all they depend on (a <c>/v1</c> completion's scope held
/// 57 services, 46 with these deferred).
/// </summary>
internal sealed class Deferred<T>(IServiceProvider services) : Lazy<T>(services.GetRequiredService<T>)
    where T : notnull;

internal static class DeferredRegistration
{
    /// <summary>
    /// Lets any service take <c>Lazy&lt;T&gt;</c> of another (<see cref="Deferred{T}"/>); once is enough. Transient: the
    /// lazy holds the provider it was made in, so its value is that scope's own, and it takes no place among the
    /// scope's services.
    /// </summary>
    public static IServiceCollection AddDeferred(this IServiceCollection services)
    {
        services.TryAdd(ServiceDescriptor.Transient(typeof(Lazy<>), typeof(Deferred<>)));
        return services;
    }
}
