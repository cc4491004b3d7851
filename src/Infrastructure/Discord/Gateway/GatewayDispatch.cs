using System.Text.Json;

namespace MeatLizard.Infrastructure.Discord.Gateway;

/// <summary>One op-0 event: its name (<c>t</c>), sequence number (<c>s</c>) and payload (<c>d</c>).</summary>
public sealed record GatewayDispatch(string Type, long Sequence, JsonElement Data);
