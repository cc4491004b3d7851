using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Chooses how the platform answers when no worker can: a notice (inform) or a Markov-chain reply.</summary>
public sealed record SetFallbackMode(AdminActor Actor, string Mode) : AdminCommand<FallbackMode>(Actor)
{
    /// <summary>Limited per admin like the other changes of stored records (a web admin; a Discord member has no bucket).</summary>
    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;

    public override string AuditName => "fallback";

    public override string? AuditArguments => $"mode={Mode}";
}

public sealed class SetFallbackModeHandler(AdminSettingsWriter writer, IFallbackResponder fallback)
    : IRequestHandler<SetFallbackMode, FallbackMode>
{
    public async Task<FallbackMode> Handle(SetFallbackMode request, CancellationToken cancellationToken)
    {
        SetFallbackModeValidator.TryMode(request.Mode, out var mode);
        await writer.SetAsync(SettingKeys.FallbackMode, mode.ToString().ToLowerInvariant(), request.Actor, cancellationToken);
        return await fallback.GetModeAsync(cancellationToken);
    }
}
