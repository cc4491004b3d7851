using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MeatLizard.Infrastructure.Discord.Setup;

/// <summary>
/// A JSON configuration file the hosts load (e.g. <c>appsettings.Production.json</c>) that the <c>setup</c> verb writes
/// ids into: existing keys are kept (sections are matched without regard to case, as the configuration reads them), the
/// file is replaced in one move so a host never reads half of it, and it is readable by its owner only (0600) since
/// operators keep secrets in the same file. Comments in an existing file are not kept.
/// </summary>
public sealed class SettingsFile
{
    private static readonly JsonDocumentOptions s_read = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    private readonly JsonObject _root;

    private SettingsFile(string path, JsonObject root)
    {
        Path = path;
        _root = root;
    }

    public string Path { get; }

    /// <summary>Reads the file (an absent one is empty); one line naming the file when it is not a JSON object.</summary>
    public static SettingsFile Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            return new SettingsFile(full, []);
        }

        try
        {
            return JsonNode.Parse(File.ReadAllText(full), documentOptions: s_read) is JsonObject root
                ? new SettingsFile(full, root)
                : throw new ConfigurationException($"{full} must hold a JSON object ({{ \"Discord\": {{ … }} }}).");
        }
        catch (JsonException ex)
        {
            throw new ConfigurationException($"{full} is not valid JSON (line {ex.LineNumber + 1}): fix it or name another file.");
        }
    }

    /// <summary>Sets <c>Section:Key</c> to a string value, making the section when it is missing.</summary>
    public void Set(string key, string value)
    {
        var parts = key.Split(':');
        var node = _root;
        foreach (var part in parts[..^1])
        {
            var name = Existing(node, part) ?? part;
            if (node[name] is not JsonObject child)
            {
                child = [];
                node[name] = child;
            }

            node = child;
        }

        node[Existing(node, parts[^1]) ?? parts[^1]] = value;
    }

    /// <summary>Writes the file beside itself, then moves it over the old one; mode 0600 where the system has modes.</summary>
    public void Save()
    {
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(directory);
        var temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(Encoding.UTF8.GetBytes(_root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n"));
            }

            File.Move(temporary, Path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static string? Existing(JsonObject node, string name) =>
        node.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
}
