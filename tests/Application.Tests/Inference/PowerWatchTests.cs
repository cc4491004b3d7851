using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Inference;

public sealed class PowerWatchTests
{
    [TestCase(true, 15, 20, true)]
    [TestCase(true, 20, 20, false)]
    [TestCase(false, 5, 20, false)]
    [TestCase(true, 5, 0, false)]
    public void IsTooLow(bool onBattery, int percent, int minimum, bool expected) =>
        Assert.That(PowerWatch.IsTooLow(new PowerStatus(onBattery, percent), minimum), Is.EqualTo(expected));

    [Test]
    public void IsTooLow_UnknownPowerSource_IsFalse()
    {
        Assert.That(PowerWatch.IsTooLow(null, 20), Is.False);
        Assert.That(PowerWatch.IsTooLow(new PowerStatus(true, null), 20), Is.False);
    }

    [Test]
    public async Task BatteryFallsBelowTheMinimum_StopsTheHost()
    {
        var readings = new Queue<PowerStatus>([new(true, 50), new(false, 30), new(true, 12)]);
        var power = new Mock<IPowerSource>();
        power.Setup(p => p.ReadAsync(It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => readings.Count > 1 ? readings.Dequeue() : readings.Peek());
        var stopped = new TaskCompletionSource();
        var lifetime = new Mock<IHostApplicationLifetime>();
        lifetime.Setup(l => l.StopApplication()).Callback(() => stopped.TrySetResult());
        using var watch = new PowerWatch(power.Object, lifetime.Object,
            Options.Create(new HostPowerOptions { MinBatteryPercent = 20, PowerCheckInterval = TimeSpan.FromMilliseconds(10) }),
            NullLogger<PowerWatch>.Instance);

        await watch.StartAsync(CancellationToken.None);
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await watch.StopAsync(CancellationToken.None);

        Assert.That(watch.Tripped, Is.True);
        lifetime.Verify(l => l.StopApplication(), Times.Once);
        power.Verify(p => p.ReadAsync(It.IsAny<CancellationToken>()), Times.Exactly(3));
    }

    [Test]
    public async Task TurnedOff_NeverReadsThePowerSource()
    {
        var power = new Mock<IPowerSource>();
        var lifetime = new Mock<IHostApplicationLifetime>();
        using var watch = new PowerWatch(power.Object, lifetime.Object,
            Options.Create(new HostPowerOptions { MinBatteryPercent = 0, PowerCheckInterval = TimeSpan.FromMilliseconds(10) }),
            NullLogger<PowerWatch>.Instance);

        await watch.StartAsync(CancellationToken.None);
        await Task.Delay(100);
        await watch.StopAsync(CancellationToken.None);

        power.VerifyNoOtherCalls();
        lifetime.VerifyNoOtherCalls();
    }
}
