using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Channels.Commands;

/// <summary>
/// Adds a channel to those where members may chat with the model, removes one, or lists them (<c>/chat-channels</c>);
/// kept in the settings table, besides the configured ones. Returns the channels admins added.
/// </summary>
public sealed record ManageChatChannels(AdminActor Actor, string Network, string Action, string? ChannelId)
    : AdminCommand<IReadOnlyList<string>>(Actor)
{
    public override string AuditName => "chat-channels";

    public override string? AuditArguments => $"{Action} channel={ChannelId}";
}

public sealed class ManageChatChannelsHandler(AdminSettingsWriter writer, IRuntimeSettings runtime)
    : IRequestHandler<ManageChatChannels, IReadOnlyList<string>>
{
    public async Task<IReadOnlyList<string>> Handle(ManageChatChannels request, CancellationToken cancellationToken)
    {
        var key = ChannelSettingKeys.AllowedChats(request.Network);
        var stored = await runtime.GetAsync(key, cancellationToken) ?? "";
        var channels = stored.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        var changed = request.Action switch
        {
            "add" when !channels.Contains(request.ChannelId!) => channels.Append(request.ChannelId!).ToList(),
            "remove" => channels.Where(c => c != request.ChannelId).ToList(),
            _ => channels,
        };
        if (!changed.SequenceEqual(channels))
        {
            await writer.SetAsync(key, string.Join(',', changed), request.Actor, cancellationToken);
        }

        return changed;
    }
}

public sealed class ManageChatChannelsValidator : AbstractValidator<ManageChatChannels>
{
    public ManageChatChannelsValidator()
    {
        RuleFor(c => c.Action).Must(a => a is "add" or "remove" or "list").OverridePropertyName("action")
            .WithMessage("The action is one of: add, remove, list.");
        RuleFor(c => c.ChannelId).Must(ChannelIds.IsValid).When(c => c.Action is "add" or "remove")
            .OverridePropertyName("channel").WithMessage("Name the channel (its id: digits only).");
    }
}

/// <summary>
/// Sets the model of new chats started in one channel when the member prefers none (<c>/chat-model</c>); an empty
/// name clears it, and the platform's default applies again. Returns the model now in force there, or null.
/// </summary>
public sealed record SetChannelModel(AdminActor Actor, string Network, string ChannelId, string? Model)
    : AdminCommand<string?>(Actor)
{
    public override string AuditName => "chat-model";

    public override string? AuditArguments => $"channel={ChannelId} name={Model}";
}

public sealed class SetChannelModelHandler(AdminSettingsWriter writer) : IRequestHandler<SetChannelModel, string?>
{
    public async Task<string?> Handle(SetChannelModel request, CancellationToken cancellationToken)
    {
        var model = string.IsNullOrWhiteSpace(request.Model) ? null : ModelName.From(request.Model).Value;
        await writer.SetAsync(ChannelSettingKeys.ChannelModel(request.Network, request.ChannelId), model ?? "",
            request.Actor, cancellationToken);
        return model;
    }
}

public sealed class SetChannelModelValidator : AbstractValidator<SetChannelModel>
{
    public SetChannelModelValidator() =>
        RuleFor(c => c.ChannelId).Must(ChannelIds.IsValid).OverridePropertyName("channel")
            .WithMessage("Name the channel (its id: digits only).");
}

/// <summary>Networks' chat ids as the admin commands take them: digits, a minus sign first for Telegram's groups.</summary>
internal static class ChannelIds
{
    public static bool IsValid(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 24 && id.TrimStart('-').Length > 0 && id.TrimStart('-').All(char.IsAsciiDigit)
        && id.LastIndexOf('-') <= 0;
}
