using System.Runtime.CompilerServices;

namespace MeatLizard.Application.Common.Behaviours;

/// <summary>
/// Which unexpected exceptions were logged already on their way out (by <see cref="UnhandledExceptionBehaviour{TRequest,TResponse}"/>),
/// so the edge that answers them logs each fault once: every other one it logs itself.
/// </summary>
/// <remarks>
/// Kept beside the exceptions, not in their <see cref="Exception.Data"/>: that is read-only on some (the runtime's
/// preallocated out-of-memory one), where writing would replace the fault with a <see cref="NotSupportedException"/>,
/// and whatever logs an exception's data would print the mark. An entry goes with its exception.
/// </remarks>
public static class LoggedFaults
{
    private static readonly ConditionalWeakTable<Exception, object> Logged = [];

    public static void Note(Exception exception) => Logged.TryAdd(exception, Logged);

    public static bool Contains(Exception exception) => Logged.TryGetValue(exception, out _);
}
