using System.Diagnostics;
using MeatLizard.Infrastructure;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Whether an incoming request's W3C <c>traceparent</c> (and <c>tracestate</c>, <c>baggage</c>) is taken as the parent of
/// its trace. A client's trace id is stored with the message it asks and its sampled flag can force recording, so by
/// default none is believed: each request starts a trace of its own. <c>Tracing:TrustClientTraceparent</c> = true
/// believes them, for a deployment whose clients (or reverse proxy, which then must overwrite the header) are trusted.
/// </summary>
public sealed class ClientTraceContext(DistributedContextPropagator inner, bool trustClients) : DistributedContextPropagator
{
    public const string TrustKey = "Tracing:TrustClientTraceparent";

    public override IReadOnlyCollection<string> Fields => inner.Fields;

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
        inner.Inject(activity, carrier, setter);

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId,
        out string? traceState)
    {
        if (trustClients)
        {
            inner.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);
            return;
        }

        (traceId, traceState) = (null, null);
    }

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
        trustClients ? inner.ExtractBaggage(carrier, getter) : null;

    /// <summary>Replaces the propagator ASP.NET Core reads incoming requests with.</summary>
    public static IServiceCollection AddClientTraceContext(IServiceCollection services, IConfiguration configuration)
    {
        var value = configuration[TrustKey];
        bool trust;
        if (string.IsNullOrWhiteSpace(value))
        {
            trust = false;
        }
        else if (!bool.TryParse(value, out trust))
        {
            throw new ConfigurationException($"{TrustKey} must be true or false, not '{value}'.");
        }

        return services.AddSingleton<DistributedContextPropagator>(
            new ClientTraceContext(DistributedContextPropagator.CreateDefaultPropagator(), trust));
    }
}
