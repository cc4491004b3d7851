namespace MeatLizard.Domain.Tests.Builders;

/// <summary>Fixed instants, so tests never depend on the wall clock.</summary>
public static class Moments
{
    public static readonly DateTimeOffset T0 = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);
}
