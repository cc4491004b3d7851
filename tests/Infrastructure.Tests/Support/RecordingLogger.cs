using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Tests.Support;

/// <summary>Every log line written, formatted with its exception's message, to check what is logged and what never is.</summary>
public class RecordingLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<string> _lines = new();

    public string Text => string.Join("\n", _lines);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue($"{logLevel}: {formatter(state, exception)} {exception?.Message}");
}
