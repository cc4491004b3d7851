using System.Reflection;

namespace MeatLizard.Architecture.Tests;

/// <summary>
/// The conversation core's shape (issue 35): a handler does its one use case with what it is given — it never sends
/// another request through the mediator (whose validation, limits and audit would run nested) nor resolves services
/// from the container — and one place queues a relay request.
/// </summary>
public sealed class ConversationCoreTests
{
    private static readonly Assembly Application = typeof(MeatLizard.Application.DependencyInjection).Assembly;

    private static IEnumerable<Type> Handlers() => Application.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false }
        && t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(MediatR.IRequestHandler<,>)));

    [Test]
    public void NoHandler_IsGivenTheMediatorOrTheContainer()
    {
        var forbidden = new[] { typeof(MediatR.IMediator), typeof(IServiceProvider),
            typeof(Microsoft.Extensions.DependencyInjection.IServiceScopeFactory) };

        var offenders = Handlers().SelectMany(handler => handler.GetConstructors()
                .SelectMany(c => c.GetParameters())
                .Where(p => forbidden.Contains(p.ParameterType))
                .Select(p => $"{handler.Name}({p.ParameterType.Name})"))
            .ToList();

        Assert.That(Handlers().Count(), Is.GreaterThan(30), "the handlers are found");
        Assert.That(offenders, Is.Empty);
    }

    [Test]
    public void NoRequest_HasAnAdminTwin()
    {
        // What an admin may do beyond an owner is one rule (UserAccess.RequireChatAsync) on one request, not a second
        // request whose handler drifts from the owner's (issue 35, item 7).
        var twins = Application.GetTypes().Where(t => t.Name.Contains("AsAdmin", StringComparison.Ordinal))
            .Select(t => t.Name).ToList();

        Assert.That(twins, Is.Empty);
    }

    [Test]
    public void OneClass_QueuesARelayRequestForAQuestion()
    {
        // The conditional queueing write is the repository's TryQueueAsync; its one caller in Application is Asking.
        var source = Path.Combine(LayeringTests.RepositoryRoot(), "src", "Application");
        var callers = Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f).Contains(".TryQueueAsync(", StringComparison.Ordinal))
            .Select(Path.GetFileName)
            .ToList();

        Assert.That(callers, Is.EqualTo(new[] { "Asking.cs" }));
    }
}
