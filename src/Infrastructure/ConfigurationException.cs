namespace MeatLizard.Infrastructure;

/// <summary>A setting is missing or wrong; the message names the key in one line.</summary>
public sealed class ConfigurationException(string message) : Exception(message);
