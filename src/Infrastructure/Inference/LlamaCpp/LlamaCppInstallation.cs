namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>Where the llama.cpp binaries and the model are, once found and checked.</summary>
public sealed record LlamaCppInstallation(string Directory, string ServerPath, string? CompletionPath, string ModelPath)
{
    /// <summary>Where scripts/llama.sh and scripts/test-model.sh keep what they build.</summary>
    public static string CacheRoot =>
        Environment.GetEnvironmentVariable("MEATLIZARD_CACHE") is { Length: > 0 } cache
            ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "meatlizard");

    /// <summary>
    /// Finds the binaries (Inference:LlamaCppDir, else PATH, else the scripts/llama.sh cache) and the model
    /// (Inference:ModelPath, else the generated test model). Throws <see cref="ConfigurationException"/> naming the
    /// setting when something is missing.
    /// </summary>
    public static LlamaCppInstallation Resolve(LlamaCppOptions options, bool needsCompletionBinary) =>
        Resolve(options, needsCompletionBinary, "Inference:ModelPath");

    /// <summary>As above, naming <paramref name="modelSetting"/> when the model file is missing.</summary>
    public static LlamaCppInstallation Resolve(LlamaCppOptions options, bool needsCompletionBinary, string modelSetting)
    {
        ArgumentNullException.ThrowIfNull(options);
        var directory = FindDirectory(options.LlamaCppDir);
        var server = Path.Combine(directory, "llama-server");
        var completion = new[] { "llama-completion", "llama-cli" }.Select(name => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
        if (needsCompletionBinary && completion is null)
        {
            throw new ConfigurationException(
                $"Inference:LlamaCppDir '{directory}' holds neither llama-completion nor llama-cli.");
        }

        if (!needsCompletionBinary && !File.Exists(server))
        {
            throw new ConfigurationException($"Inference:LlamaCppDir '{directory}' holds no llama-server.");
        }

        return new LlamaCppInstallation(directory, server, completion, FindModel(options.ModelPath, modelSetting));
    }

    private static string FindDirectory(string? configured)
    {
        if (configured is not null)
        {
            var full = Path.GetFullPath(configured);
            if (!System.IO.Directory.Exists(full))
            {
                throw new ConfigurationException($"Inference:LlamaCppDir '{configured}' does not exist.");
            }

            return full;
        }

        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Where(d => d.Length > 0)
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "llama-server")));
        if (onPath is not null)
        {
            return onPath;
        }

        var cached = Path.Combine(CacheRoot, "llama.cpp");
        var built = System.IO.Directory.Exists(cached)
            ? System.IO.Directory.GetDirectories(cached).Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "llama-server")))
                .OrderByDescending(System.IO.Directory.GetLastWriteTimeUtc)
                .FirstOrDefault()
            : null;
        return built ?? throw new ConfigurationException(
            $"Inference:LlamaCppDir is not set and llama-server is neither on PATH nor built under {cached}: run scripts/llama.sh or set Inference:LlamaCppDir.");
    }

    private static string FindModel(string? configured, string setting)
    {
        if (configured is not null)
        {
            var full = Path.GetFullPath(configured);
            return File.Exists(full)
                ? full
                : throw new ConfigurationException($"{setting} '{configured}' does not exist.");
        }

        var cached = Path.Combine(CacheRoot, "test-model");
        var testModel = System.IO.Directory.Exists(cached)
            ? System.IO.Directory.GetFiles(cached, "*.gguf").OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            : null;
        return testModel ?? throw new ConfigurationException(
            $"Inference:ModelPath is not set and no test model was found under {cached}: set Inference:ModelPath to a GGUF file or run scripts/test-model.sh.");
    }
}
