
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Shows, where the relay has a way to, that an answer is being generated for a chat (over Discord: the client bot
/// "is typing" in the chat's channel). Showing it must never hold up or break the generation.
/// </summary>
public interface IGenerationIndicator
{
    /// <summary>Shows the indicator until the returned handle is disposed (when the answer is final or given up).</summary>
    IAsyncDisposable Show(Guid chatId);
}

/// <summary>For relays with nothing to show (in-process).</summary>
public sealed class NoGenerationIndicator : IGenerationIndicator
{
    private static readonly Nothing s_nothing = new();

    public IAsyncDisposable Show(Guid chatId) => s_nothing;

    // Not the indicator itself: a container would refuse to dispose a singleton that is only IAsyncDisposable.
    private sealed class Nothing : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
