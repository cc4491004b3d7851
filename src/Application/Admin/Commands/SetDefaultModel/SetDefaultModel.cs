using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Sets the model used by chats that do not choose one.</summary>
public sealed record SetDefaultModel(AdminActor Actor, string Model) : AdminCommand<string>(Actor)
{
    /// <summary>Limited per admin like the other changes of stored records (a web admin; a Discord member has no bucket).</summary>
    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;

    public override string AuditName => "model";

    public override string? AuditArguments => $"name={Model}";
}

public sealed class SetDefaultModelHandler(AdminSettingsWriter writer, ChatModels models)
    : IRequestHandler<SetDefaultModel, string>
{
    public async Task<string> Handle(SetDefaultModel request, CancellationToken cancellationToken)
    {
        await writer.SetAsync(SettingKeys.DefaultModel, ModelName.From(request.Model).Value, request.Actor, cancellationToken);
        return await models.DefaultAsync(cancellationToken);
    }
}
