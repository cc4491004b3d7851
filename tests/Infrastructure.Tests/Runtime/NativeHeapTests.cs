using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Runtime;

/// <summary>The C library's arenas every host limits first thing (<see cref="NativeHeap"/>).</summary>
[NonParallelizable]
public sealed class NativeHeapTests
{
    [Test]
    public void OnLinux_TheArenasAreLimited()
    {
        var given = Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX");
        try
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", null);
            Assert.That(NativeHeap.LimitArenas(), Is.EqualTo(OperatingSystem.IsLinux()), "mallopt(M_ARENA_MAX) took the limit (glibc's arenas are Linux's)");
        }
        finally
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", given);
        }
    }

    [Test]
    public void AnOperatorsMallocArenaMax_Wins()
    {
        var given = Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX");
        try
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", "4");
            Assert.That(NativeHeap.LimitArenas(), Is.False, "left as the operator set it");
        }
        finally
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", given);
        }
    }
}
