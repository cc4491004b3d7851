using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Discord.Tests.Chat;

/// <summary>
/// Wraps a <typeparamref name="T"/> so that calls of one method fail as a dropped database connection does (a transient
/// <see cref="Npgsql.NpgsqlException"/>) while <c>fail()</c> says so; every other call goes to the real one.
/// </summary>
public class OutageAt<T> : System.Reflection.DispatchProxy where T : class
{
    private T _inner = null!;
    private string _method = "";
    private Func<bool> _fail = () => false;

    public static T Wrap(T inner, string method, Func<bool> fail)
    {
        var proxy = Create<T, OutageAt<T>>();
        var outage = (OutageAt<T>)(object)proxy;
        (outage._inner, outage._method, outage._fail) = (inner, method, fail);
        return proxy;
    }

    /// <summary>
    /// Replaces the last registration of <typeparamref name="T"/> in <paramref name="services"/> by the same service
    /// (made as it was registered, with the same lifetime) wrapped so that <paramref name="method"/> fails while
    /// <paramref name="fail"/> says so.
    /// </summary>
    public static void Replace(IServiceCollection services, string method, Func<bool> fail)
    {
        var registered = services.Last(d => d.ServiceType == typeof(T));
        services.Add(new ServiceDescriptor(typeof(T), provider => Wrap(
                (T)(registered.ImplementationFactory?.Invoke(provider)
                    ?? registered.ImplementationInstance
                    ?? ActivatorUtilities.CreateInstance(provider, registered.ImplementationType!)),
                method, fail),
            registered.Lifetime));
    }

    protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod!.Name == _method && _fail())
        {
            throw new Npgsql.NpgsqlException("The connection was dropped (test)", new IOException("connection reset"));
        }

        return targetMethod.Invoke(_inner, args);
    }
}
