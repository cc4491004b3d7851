namespace MeatLizard.Infrastructure.Discord.Gateway;

/// <summary>A close code after which reconnecting cannot help; the host must stop and the operator act.</summary>
public sealed class DiscordGatewayFatalException(int closeCode, string message) : Exception(message)
{
    public int CloseCode { get; } = closeCode;
}
