using System.Runtime.InteropServices;

namespace MeatLizard.Infrastructure;

/// <summary>
/// The C library's heap under the runtime. On Linux, glibc gives each thread that allocates its own arena (up to eight per
/// core), and an arena keeps the memory freed in it for later: a long-running API instance, whose thread-pool threads
/// each allocate natively (OpenSSL's PBKDF2 at every sign-up and sign-in, Npgsql's and the sockets' buffers), grew a few
/// MB a minute in its arenas while what it held alive stayed under 8 MB (docs/reliability.md, the soak). Two arenas are
/// what glibc's own documentation suggests for such processes; an operator's <c>MALLOC_ARENA_MAX</c> wins.
/// </summary>
public static class NativeHeap
{
    public const int ArenaLimit = 2;

    /// <summary>mallopt's parameter for the most arenas (glibc's malloc.h).</summary>
    private const int MallocArenaMax = -8;

    /// <summary>
    /// Limits glibc's arenas to <see cref="ArenaLimit"/> unless <c>MALLOC_ARENA_MAX</c> is set; true when it did. Called
    /// first thing in a process, before its threads allocate.
    /// </summary>
    public static bool LimitArenas()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is { Length: > 0 })
        {
            return false;
        }

        try
        {
            return Mallopt(MallocArenaMax, ArenaLimit) == 1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc (musl has no arenas to limit)
        }
    }

    // DllImport, not LibraryImport: its generated code needs unsafe blocks, and two ints need no marshalling.
    [DllImport("libc", EntryPoint = "mallopt")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Mallopt(int parameter, int value);
}
