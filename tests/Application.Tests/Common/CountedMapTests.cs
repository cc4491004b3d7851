using MeatLizard.Application.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public class CountedMapTests
{
    [Test]
    public void AnEntryIsCountedOnceWhateverItsValue_AndUncountedWhenItGoes()
    {
        var map = new CountedMap<string, int>(StringComparer.OrdinalIgnoreCase);

        map["a"] = 1;
        map["A"] = 2; // the same key by the map's comparer: replaced, not added
        Assert.That(map.TryAdd("b", 3), Is.True);
        Assert.That(map.TryAdd("B", 4), Is.False);
        Assert.That((map.Count, map["a"], map.GetValueOrDefault("b"), map.ContainsKey("c")), Is.EqualTo((2, 2, 3, false)));

        Assert.That(map.TryRemove(new KeyValuePair<string, int>("a", 1)), Is.False, "a value since replaced stays");
        Assert.That(map.Count, Is.EqualTo(2));
        Assert.That(map.TryRemove(new KeyValuePair<string, int>("a", 2)), Is.True);
        Assert.That(map.TryRemove("a", out _), Is.False);
        Assert.That(map.TryRemove("b", out var removed), Is.True);
        Assert.That((removed, map.Count), Is.EqualTo((3, 0)));

        map["c"] = 5;
        map["d"] = 6;
        Assert.That(map.OrderBy(e => e.Key).Select(e => e.Key), Is.EqualTo(new[] { "c", "d" }));
        map.Clear();
        Assert.That((map.Count, map.Any()), Is.EqualTo((0, false)));
    }

    [Test]
    public async Task WritesFromManyThreadsAtOnce_LeaveTheCountAtWhatTheMapHolds()
    {
        var map = new CountedMap<int, int>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(thread => Task.Run(() =>
        {
            var random = new Random(thread);
            for (var i = 0; i < 200_000; i++)
            {
                var key = random.Next(64); // few keys: the threads keep meeting on the same ones
                switch (random.Next(4))
                {
                    case 0:
                        map[key] = i;
                        break;
                    case 1:
                        map.TryAdd(key, i);
                        break;
                    case 2:
                        map.TryRemove(key, out _);
                        break;
                    default:
                        if (map.TryGetValue(key, out var value))
                        {
                            map.TryRemove(new KeyValuePair<int, int>(key, value));
                        }

                        break;
                }
            }
        })));

        Assert.That(map.Count, Is.EqualTo(map.Count()));
    }
}
