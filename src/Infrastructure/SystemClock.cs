using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure;

/// <summary>The real time, in UTC.</summary>
public sealed class SystemClock : IClock
{
    public DateTimeOffset UtcNow => DateTimeOffset.UtcNow;
}
