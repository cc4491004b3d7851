using System.Globalization;
using System.Reflection;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>One ordered SQL script of a dialect's migration set.</summary>
internal sealed record Migration(int Version, string Name, string Sql);

/// <summary>Reads a dialect's <c>Migrations/&lt;Dialect&gt;/NNNN_name.sql</c> scripts, embedded in this assembly.</summary>
internal static class MigrationScripts
{
    /// <summary>The scripts whose resource names start with <paramref name="resourcePrefix"/>, ordered by version.</summary>
    public static IReadOnlyList<Migration> Load(string resourcePrefix)
    {
        var assembly = typeof(MigrationScripts).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(resourcePrefix, StringComparison.Ordinal)
                || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[resourcePrefix.Length..^".sql".Length];
            var separator = name.IndexOf('_', StringComparison.Ordinal);
            if (separator <= 0 || !int.TryParse(name[..separator], NumberStyles.None, CultureInfo.InvariantCulture,
                    out var version))
            {
                throw new InvalidOperationException(
                    $"Migration resource '{resource}' is not named NNNN_description.sql.");
            }

            migrations.Add(new Migration(version, name, ReadResource(assembly, resource)));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException(
                    $"Two migrations share version {migrations[i].Version}: {migrations[i - 1].Name}, {migrations[i].Name}.");
            }
        }

        return migrations;
    }

    private static string ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Migration resource '{resource}' cannot be read.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
