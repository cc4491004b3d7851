namespace MeatLizard.Infrastructure.Relay;

/// <summary>Section "Relay": the envelope key ring. Every listed key opens; the active one seals.</summary>
public sealed class RelayKeyOptions
{
    public const string Section = "Relay";

    public IList<RelayKeyEntry> Keys { get; } = new List<RelayKeyEntry>();

    /// <summary>The key that seals. May be left out when exactly one key is listed.</summary>
    public int? ActiveKeyId { get; set; }
}

/// <summary>One key of the ring: an id (0–255, written into every envelope) and 32 random bytes in base64.</summary>
public sealed class RelayKeyEntry
{
    public int? Id { get; set; }

    public string? Key { get; set; }
}
