namespace MeatLizard.Application.Channels;

/// <summary>
/// Which model answers a chat network question, by priority: the conversation's own model (a chat keeps the model it
/// started with), else the member's preference (<c>/model</c>), else the channel's default set by an admin, else the
/// platform's default (null: the chat names no model and follows whatever the admins make the default).
/// </summary>
public static class ChannelModelChoice
{
    public static string? Pick(string? conversation, string? member, string? channel) =>
        NonBlank(conversation) ?? NonBlank(member) ?? NonBlank(channel);

    private static string? NonBlank(string? model) => string.IsNullOrWhiteSpace(model) ? null : model.Trim();
}
