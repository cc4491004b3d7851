namespace MeatLizard.Application.Common.Behaviours;

/// <summary>
/// Which unexpected exceptions were logged already on their way out (by <see cref="UnhandledExceptionBehaviour{TRequest,TResponse}"/>),
/// so the edge that answers them logs each fault once: every other one it logs itself.
/// </summary>
public static class LoggedFaults
{
    private const string Key = "MeatLizard.Logged";

    public static void Note(Exception exception) => exception.Data[Key] = true;

    public static bool Contains(Exception exception) => exception.Data.Contains(Key);
}
