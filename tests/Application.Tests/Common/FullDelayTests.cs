using System.Diagnostics;
using MeatLizard.Application.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public sealed class FullDelayTests
{
    /// <summary>
    /// With many timers alive in the process (as in a host), a plain Task.Delay ended early by a Stopwatch in about half
    /// of the tries (the shortest of 100 ms after 95.18 ms); the drain deadline and the scripted engine's pauses wait this
    /// way instead.
    /// </summary>
    [Test]
    public async Task AWait_LastsAtLeastItsLength_WithManyTimersAlive()
    {
        using var stop = new CancellationTokenSource();
        var others = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(1 + i % 37, CancellationToken.None);
            }
        })).ToArray();
        var shortest = TimeSpan.MaxValue;
        for (var i = 0; i < 40; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await FullDelay.WaitAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None);
            var took = Stopwatch.GetElapsedTime(started);
            shortest = took < shortest ? took : shortest;
        }

        await stop.CancelAsync();
        await Task.WhenAll(others);
        Assert.That(shortest, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(20)));
    }
}
