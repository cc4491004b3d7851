namespace MeatLizard.Infrastructure.Discord.Gateway;

/// <summary>What READY told us: our own user id (to ignore our own messages) and the application id.</summary>
public sealed record GatewayReady(string UserId, string? ApplicationId, string SessionId);
