using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Tests.TestDoubles;

/// <summary>A clock that only moves when the test says so.</summary>
public sealed class FakeClock(DateTimeOffset start) : IClock
{
    private long _ticks = start.UtcTicks;

    public FakeClock()
        : this(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public DateTimeOffset UtcNow => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
