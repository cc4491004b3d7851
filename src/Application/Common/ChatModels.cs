using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Domain.Chats;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Common;

/// <summary>
/// The one place a chat's model is decided, for every reader: the chat's own model (asked for, or its persona's), else
/// (for a chat a network member starts) the member's choice on that network (<c>/model</c>), else the user's default
/// model (their preferences), else the channel's, else the platform's default — the admins' (<c>/model</c>, the admin
/// console) over configuration's <c>Inference:DefaultModel</c>. A new chat stores the model so chosen.
/// </summary>
public sealed class ChatModels(IRuntimeSettings settings, IOptions<InferenceOptions> inference)
{
    /// <summary>The platform's default model now.</summary>
    public async ValueTask<string> DefaultAsync(CancellationToken cancellationToken) =>
        await settings.DefaultModelAsync(inference.Value.DefaultModel, cancellationToken);

    /// <summary>The model <paramref name="chat"/> is answered by: its own, else the default.</summary>
    public async ValueTask<string> OfAsync(Chat chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        return chat.Model?.Value ?? await DefaultAsync(cancellationToken);
    }

    /// <summary>
    /// The model a new chat names, by priority: the one asked for, else the member's, else the user's default, else the
    /// channel's; null when none is set, and the chat then follows whatever the default is.
    /// </summary>
    public static string? ForNewChat(string? asked, string? member, string? user, string? channel) =>
        NonBlank(asked) ?? NonBlank(member) ?? NonBlank(user) ?? NonBlank(channel);

    private static string? NonBlank(string? model) => string.IsNullOrWhiteSpace(model) ? null : model.Trim();
}
