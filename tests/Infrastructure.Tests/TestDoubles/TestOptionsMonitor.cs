using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Tests.TestDoubles;

/// <summary>Options whose current value a test can replace, as a configuration reload would.</summary>
public sealed class TestOptionsMonitor<T>(T value) : IOptionsMonitor<T>
{
    public T CurrentValue { get; set; } = value;

    public T Get(string? name) => CurrentValue;

    public IDisposable? OnChange(Action<T, string?> listener) => null;
}
