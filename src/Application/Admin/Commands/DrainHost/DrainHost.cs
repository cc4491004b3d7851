using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>
/// Drains a model host (<paramref name="Drain"/> true) — it finishes the answers it is writing and is sent no new
/// question, from its next heartbeat, in every process — or undrains it. Kept in the settings table, so a drain outlives
/// restarts of the host and of the server until an admin undrains it. Questions for a model only that host serves wait
/// or fall back as when no host serves it. Only a host online is drained (a mistyped id drains nothing); any is undrained.
/// The web console and the server bot's <c>/drain</c> and <c>/undrain</c> send it alike.
/// </summary>
public sealed record DrainHost(AdminActor Actor, Guid HostId, bool Drain) : AdminCommand<bool>(Actor)
{
    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;

    public override string AuditName => Drain ? "drain" : "undrain";

    public override string? AuditArguments => $"host={HostId:D}";
}

public sealed class DrainHostHandler(AdminSettingsWriter writer, IHostPresence presence) : IRequestHandler<DrainHost, bool>
{
    /// <returns>Whether the host is drained now.</returns>
    public async Task<bool> Handle(DrainHost request, CancellationToken cancellationToken)
    {
        var key = SettingKeys.DrainedHost(request.HostId);
        if (request.Drain)
        {
            if (!(await presence.ListAliveAsync(cancellationToken)).Any(h => h.WorkerId == request.HostId))
            {
                throw NotFoundException.Host(request.HostId);
            }

            await writer.SetAsync(key, "1", request.Actor, cancellationToken);
        }
        else
        {
            await writer.RemoveAsync(key, cancellationToken);
        }

        return request.Drain;
    }
}

public sealed class DrainHostValidator : AbstractValidator<DrainHost>
{
    public const string Message = "Give a model host's id, as /workers or the console's list of hosts shows it.";

    public DrainHostValidator() =>
        RuleFor(c => c.HostId).NotEqual(Guid.Empty).OverridePropertyName("id").WithMessage(Message);
}
