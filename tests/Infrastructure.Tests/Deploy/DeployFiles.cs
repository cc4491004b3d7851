using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Deploy;

/// <summary>Where the repository's deploy/ files are, from the test's output folder.</summary>
internal static class DeployFiles
{
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MeatLizard.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("MeatLizard.sln not found above the test directory.");
    }

    public static string PathOf(params string[] parts) => Path.Combine([RepositoryRoot(), "deploy", .. parts]);

    /// <summary>The assembly a host project builds (the DLL its unit or agent starts).</summary>
    public static bool HostProjectExists(string assemblyName)
    {
        var folder = assemblyName.Replace("MeatLizard.", "", StringComparison.Ordinal);
        return File.Exists(Path.Combine(RepositoryRoot(), "src", folder, assemblyName + ".csproj"));
    }
}
