using System.Reflection;
using MediatR;
using MeatLizard.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The API's composition, as it runs: a part is made again in every request's scope (and every relay packet's) only when
/// it keeps something of that scope — a scoped service it takes, or state of its own. One that takes only process-wide
/// services and keeps nothing is made once per process.
/// </summary>
public sealed class ServiceLifetimeTests
{
    [Test]
    public async Task APartThatTakesOnlyProcessWideServicesAndKeepsNothing_IsMadeOncePerProcess()
    {
        // Both compositions: a part that takes a service one of them makes per scope must stay scoped in both.
        var embedded = await NeedlesslyScopedAsync(StorageProvider.Sqlite);
        var shared = await NeedlesslyScopedAsync(StorageProvider.Postgres);
        var needlessScoped = embedded.Intersect(shared).Order().ToList();

        Assert.That(needlessScoped, Is.Empty,
            "scoped, though they take only singletons and keep no state of their own (register them as singletons): "
            + string.Join(", ", needlessScoped));
    }

    /// <summary>
    /// The product's scoped parts, in the composition on <paramref name="storage"/>, whose every constructor parameter
    /// is a singleton and which keep no field of their own. The mediator's request handlers are left out: they are made
    /// per request as the mediator's pipeline is (AddRequestHandler).
    /// </summary>
    private static async Task<HashSet<string>> NeedlesslyScopedAsync(string storage)
    {
        IServiceCollection? composed = null;
        await using var host = await new ApiHost(services: s => composed = s, storage: storage, firstAdmin: false).StartAsync();
        return composed!
            .Where(d => d is { Lifetime: ServiceLifetime.Scoped, IsKeyedService: false, ImplementationType: { } type }
                        && type.Namespace?.StartsWith("MeatLizard", StringComparison.Ordinal) == true
                        && !type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IRequestHandler<,>))
                        && !KeepsState(type)
                        && ConstructorOf(type).GetParameters().All(p => LifetimeOf(p.ParameterType, composed!) == ServiceLifetime.Singleton))
            .Select(d => d.ImplementationType!.FullName!)
            .ToHashSet();
    }

    /// <summary>The constructor the container calls: the public one with the most parameters.</summary>
    private static ConstructorInfo ConstructorOf(Type type) =>
        type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();

    /// <summary>Fields beyond the constructor's captured parameters (compiler-named <c>&lt;name&gt;P</c>) are state.</summary>
    private static bool KeepsState(Type type) =>
        type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            .Any(f => !(f.Name.StartsWith('<') && f.Name.EndsWith(">P", StringComparison.Ordinal)));

    /// <summary>How long what the container gives for <paramref name="type"/> lives; null when it gives nothing.</summary>
    private static ServiceLifetime? LifetimeOf(Type type, IServiceCollection services)
    {
        if (type == typeof(IServiceProvider))
        {
            return ServiceLifetime.Scoped; // the scope's own provider
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Lazy<>))
        {
            return LifetimeOf(type.GetGenericArguments()[0], services);
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>))
        {
            var each = services.Where(d => d.ServiceType == type.GetGenericArguments()[0] && !d.IsKeyedService)
                .Select(d => d.Lifetime).ToList();
            return each.Count == 0 || each.All(l => l == ServiceLifetime.Singleton) ? ServiceLifetime.Singleton : ServiceLifetime.Scoped;
        }

        var registered = services.LastOrDefault(d => d.ServiceType == type && !d.IsKeyedService)
                         ?? (type.IsGenericType
                             ? services.LastOrDefault(d => d.ServiceType == type.GetGenericTypeDefinition() && !d.IsKeyedService)
                             : null);
        return registered?.Lifetime;
    }
}
