namespace MeatLizard.Application.Channels;

/// <summary>The admin settings (table <c>settings</c>) of chat networks.</summary>
public static class ChannelSettingKeys
{
    /// <summary>The chats or channels an admin allowed besides configuration's, comma-separated ids.</summary>
    public static string AllowedChats(string network) => $"channels.{network}.allowed";

    /// <summary>The model of new chats started in one channel when the member prefers none.</summary>
    public static string ChannelModel(string network, string chatId) => $"channels.{network}.{chatId}.model";
}
