using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Tests.Builders;

namespace MeatLizard.Application.Tests.Support;

public sealed class FakeClock : IClock
{
    public DateTimeOffset UtcNow { get; set; } = Moments.T0;

    public void Set(double secondsAfterT0) => UtcNow = Moments.At(secondsAfterT0);
}
