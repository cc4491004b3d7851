using System.Reflection;
using System.Xml.Linq;

namespace MeatLizard.Architecture.Tests;

/// <summary>The dependency rule: Domain depends on nothing; Application never on Infrastructure or a host.</summary>
public sealed class LayeringTests
{
    private static readonly Assembly Domain = typeof(MeatLizard.Domain.Common.DomainException).Assembly;
    private static readonly Assembly Application = typeof(MeatLizard.Application.DependencyInjection).Assembly;

    [Test]
    public void Domain_ReferencesNoOtherAssemblyOfOursNorAnyPackage()
    {
        var references = Domain.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.That(references.Where(n => n.StartsWith("MeatLizard", StringComparison.Ordinal)), Is.Empty);
        Assert.That(references.Where(n => !IsFramework(n)), Is.Empty,
            "the domain may use only the .NET base library");
    }

    [Test]
    public void Domain_ProjectFile_HasNoProjectOrPackageReference()
    {
        var project = XDocument.Load(Path.Combine(RepositoryRoot(), "src", "Domain", "MeatLizard.Domain.csproj"));

        Assert.That(project.Descendants().Where(e => e.Name.LocalName is "ProjectReference" or "PackageReference"), Is.Empty);
    }

    [Test]
    public void Application_ReferencesNeitherInfrastructureNorAHost()
    {
        var references = Application.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.That(references, Does.Contain("MeatLizard.Domain"));
        Assert.That(references.Where(n => n.StartsWith("MeatLizard.Infrastructure", StringComparison.Ordinal)
                                          || n.StartsWith("MeatLizard.Presentation", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void Application_UsesNoInfrastructurePackage()
    {
        var forbidden = new[] { "Dapper", "Npgsql", "Microsoft.Data.Sqlite", "StackExchange.Redis", "AWSSDK" };
        var references = Application.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.That(references.Where(r => forbidden.Any(f => r.StartsWith(f, StringComparison.Ordinal))), Is.Empty);
    }

    [Test]
    public void Infrastructure_ReferencesNoHost()
    {
        var infrastructure = typeof(MeatLizard.Infrastructure.DependencyInjection).Assembly;

        Assert.That(infrastructure.GetReferencedAssemblies().Select(a => a.Name!)
            .Where(n => n.StartsWith("MeatLizard.Presentation", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void DomainAggregates_HaveNoPublicSetters()
    {
        var settable = Domain.GetExportedTypes()
            .Where(t => t.IsClass && !t.IsAbstract && t.Namespace?.StartsWith("MeatLizard.Domain", StringComparison.Ordinal) == true)
            .Where(t => !typeof(Exception).IsAssignableFrom(t))
            .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.SetMethod?.IsPublic == true && !IsInitOnly(p))
                .Select(p => $"{t.Name}.{p.Name}"))
            .ToList();

        Assert.That(settable, Is.Empty);
    }

    private static bool IsInitOnly(PropertyInfo property) =>
        property.SetMethod!.ReturnParameter.GetRequiredCustomModifiers()
            .Any(m => m.FullName == "System.Runtime.CompilerServices.IsExternalInit");

    private static bool IsFramework(string name) =>
        name is "System.Runtime" or "netstandard" or "mscorlib" || name.StartsWith("System.", StringComparison.Ordinal);

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MeatLizard.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("MeatLizard.sln not found above the test directory.");
    }
}
