namespace MeatLizard.Application.Abstractions;

/// <summary>The current time; tests set it, production reads the system clock.</summary>
public interface IClock
{
    DateTimeOffset UtcNow { get; }
}
