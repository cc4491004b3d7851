using System.Globalization;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Inference;

/// <summary>
/// The host's id in a file under its data folder, made on first start (readable by its owner only): the same id after
/// every restart, a new one for a new data folder. A file that does not hold an id is a one-line error naming it.
/// </summary>
public sealed class FileHostIdentity(string path) : IHostIdentity
{
    public const string FileName = "worker-id";

    private readonly Lazy<Guid> _id = new(() => ReadOrCreate(path));

    public Guid WorkerId => _id.Value;

    private static Guid ReadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            return Guid.TryParse(File.ReadAllText(path).Trim(), out var id) && id != Guid.Empty
                ? id
                : throw new ConfigurationException(
                    $"{path} does not hold a worker id; delete it to have a new one made (Data:Root).");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var created = Guid.NewGuid();
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new StreamWriter(temporary, System.Text.Encoding.UTF8, options))
        {
            file.Write(created.ToString("D", CultureInfo.InvariantCulture));
        }

        File.Move(temporary, path, overwrite: false);
        return created;
    }
}
