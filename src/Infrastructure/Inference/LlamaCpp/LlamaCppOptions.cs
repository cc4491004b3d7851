using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// The llama.cpp settings (section "Inference"). <see cref="Read"/> checks every value and resolves the binaries and
/// the model, so a bad setting stops the host at start with one line naming the key.
/// </summary>
public sealed class LlamaCppOptions
{
    public const string Section = "Inference";

    /// <summary>Holds llama-server and llama-cli/llama-completion; unset: PATH, then the scripts/llama.sh cache.</summary>
    public string? LlamaCppDir { get; set; }

    /// <summary>The GGUF to load; unset: the generated test model in the cache (scripts/test-model.sh).</summary>
    public string? ModelPath { get; set; }

    /// <summary>Tokens of context per conversation (per slot for llama-server).</summary>
    public int ContextSize { get; set; } = 4096;

    /// <summary>CPU threads; 0 lets llama.cpp decide.</summary>
    public int Threads { get; set; }

    /// <summary>Layers offloaded to the GPU (Metal on macOS); 0 keeps everything on the CPU.</summary>
    public int GpuLayers { get; set; }

    public int MaxTokens { get; set; } = 512;

    public double Temperature { get; set; } = 0.8;

    public double TopP { get; set; } = 0.95;

    /// <summary>Sampling seed; -1 draws a new one per request. A fixed seed makes answers repeatable.</summary>
    public long Seed { get; set; } = -1;

    /// <summary>How long one answer may take before it is stopped (fractions allowed, e.g. 0.5).</summary>
    public double TimeoutSeconds { get; set; } = 300;

    /// <summary>How long llama-server may take to load the model and report ready.</summary>
    public int StartupTimeoutSeconds { get; set; } = 120;

    /// <summary>llama-server slots: requests answered at once; more wait in its queue.</summary>
    public int Parallel { get; set; } = 1;

    /// <summary>The longest wait between two restarts of a llama-server that keeps dying.</summary>
    public int MaxRestartDelaySeconds { get; set; } = 30;

    /// <summary>
    /// How long a ready llama-server may leave its health check unanswered before it is taken for hung (frozen,
    /// deadlocked, out of HTTP threads), stopped and started again; the answers it held are handed back to be asked again.
    /// </summary>
    public int HangTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// The model makes embeddings (llama-server runs with <c>--embeddings</c>, which serves nothing else: give a
    /// dedicated embedding model); its heartbeat says so, and <c>/v1/embeddings</c> is routed to it.
    /// </summary>
    public bool Embeddings { get; set; }

    /// <summary>
    /// How an embedding model pools its tokens' vectors into one (<c>--pooling</c>: none, mean, cls, last or rank);
    /// unset: the model's own (a model that names none must be given one, e.g. mean).
    /// </summary>
    public string? Pooling { get; set; }

    /// <summary>
    /// The model's multimodal projector (a GGUF file, llama-server's <c>--mmproj</c>): with one, the model takes images
    /// (OpenAI-style <c>image_url</c> content parts) and its heartbeat says so; unset, it takes text only.
    /// </summary>
    public string? Mmproj { get; set; }

    /// <summary>Extra command-line arguments for the llama.cpp binaries, one per entry (never the prompt).</summary>
    public IList<string> ExtraArgs { get; } = [];

    /// <summary>
    /// Inference:Models, the models a managed-server host serves side by side (one llama-server each); empty when the
    /// host serves the one model of the settings above (the short form).
    /// </summary>
    public IReadOnlyList<LlamaModel> Models { get; private set; } = [];

    /// <summary>These settings for one of <see cref="Models"/>: its file, slots, context and GPU layers.</summary>
    public LlamaCppOptions For(LlamaModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var options = new LlamaCppOptions
        {
            LlamaCppDir = LlamaCppDir,
            ModelPath = model.ModelPath,
            ContextSize = model.ContextSize,
            Threads = Threads,
            GpuLayers = model.GpuLayers,
            MaxTokens = MaxTokens,
            Temperature = Temperature,
            TopP = TopP,
            Seed = Seed,
            TimeoutSeconds = TimeoutSeconds,
            StartupTimeoutSeconds = StartupTimeoutSeconds,
            Parallel = model.Parallel,
            MaxRestartDelaySeconds = MaxRestartDelaySeconds,
            HangTimeoutSeconds = HangTimeoutSeconds,
            Embeddings = model.Embeddings,
            Pooling = model.Pooling,
            Mmproj = model.Mmproj,
        };
        foreach (var argument in ExtraArgs)
        {
            options.ExtraArgs.Add(argument);
        }

        return options;
    }

    /// <summary>Binds and checks the section; throws <see cref="ConfigurationException"/> naming the first bad key.</summary>
    public static LlamaCppOptions Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(Section);
        var options = new LlamaCppOptions
        {
            LlamaCppDir = Text(section, nameof(LlamaCppDir)),
            ModelPath = Text(section, nameof(ModelPath)),
            ContextSize = Integer(section, nameof(ContextSize), 4096, 256, 1 << 20),
            Threads = Integer(section, nameof(Threads), 0, 0, 1024),
            GpuLayers = Integer(section, nameof(GpuLayers), 0, -1, 100_000),
            MaxTokens = Integer(section, nameof(MaxTokens), 512, 1, 1 << 20),
            Temperature = Number(section, nameof(Temperature), 0.8, 0, 2),
            TopP = Number(section, nameof(TopP), 0.95, 0, 1),
            Seed = Integer(section, nameof(Seed), -1, -1, uint.MaxValue),
            TimeoutSeconds = Number(section, nameof(TimeoutSeconds), 300, 0.001, 86_400),
            StartupTimeoutSeconds = Integer(section, nameof(StartupTimeoutSeconds), 120, 1, 3_600),
            Parallel = Integer(section, nameof(Parallel), 1, 1, 64),
            MaxRestartDelaySeconds = Integer(section, nameof(MaxRestartDelaySeconds), 30, 1, 3_600),
            HangTimeoutSeconds = Integer(section, nameof(HangTimeoutSeconds), 30, 1, 3_600),
            Embeddings = Flag(section, nameof(Embeddings)),
            Pooling = PoolingOf(section),
            Mmproj = Text(section, nameof(Mmproj)),
        };
        foreach (var argument in section.GetSection(nameof(ExtraArgs)).GetChildren())
        {
            if (!string.IsNullOrWhiteSpace(argument.Value))
            {
                options.ExtraArgs.Add(argument.Value);
            }
        }

        if (options.MaxTokens >= options.ContextSize)
        {
            throw new ConfigurationException(
                $"Inference:MaxTokens ({options.MaxTokens}) must be smaller than Inference:ContextSize ({options.ContextSize}).");
        }

        options.Models = ReadModels(section.GetSection(nameof(Models)), options);
        return options;
    }

    /// <summary>
    /// Inference:Models:N:{Name, ModelPath, Parallel, ContextSize, GpuLayers}; a model's unset Parallel, ContextSize
    /// and GpuLayers are the section's. Names are model names and unique; every file must exist.
    /// </summary>
    private static List<LlamaModel> ReadModels(IConfigurationSection models, LlamaCppOptions defaults)
    {
        var list = new List<LlamaModel>();
        foreach (var entry in models.GetChildren())
        {
            var prefix = $"Models:{entry.Key}";
            var name = Text(entry, nameof(LlamaModel.Name));
            if (name is null || !Domain.Common.ModelName.IsValid(name))
            {
                throw new ConfigurationException(name is null
                    ? $"Inference:{prefix}:Name is empty: give the model's public name."
                    : $"Inference:{prefix}:Name '{name}' is not a model name (1–{Domain.Common.ModelName.MaxLength} letters, digits, '.', '_', '-', ':' or '/').");
            }

            if (list.Any(m => m.Name == name))
            {
                throw new ConfigurationException($"Inference:{prefix}:Name '{name}' is listed twice.");
            }

            var path = Text(entry, nameof(LlamaModel.ModelPath))
                       ?? throw new ConfigurationException($"Inference:{prefix}:ModelPath is empty: give the GGUF file of '{name}'.");
            var model = new LlamaModel(name, path,
                Integer(entry, nameof(Parallel), defaults.Parallel, 1, 64, prefix),
                Integer(entry, nameof(ContextSize), defaults.ContextSize, 256, 1 << 20, prefix),
                Integer(entry, nameof(GpuLayers), defaults.GpuLayers, -1, 100_000, prefix),
                $"Inference:{prefix}")
            {
                Embeddings = Flag(entry, nameof(Embeddings), prefix),
                Pooling = PoolingOf(entry, prefix),
                Mmproj = Text(entry, nameof(Mmproj)),
            };
            if (defaults.MaxTokens >= model.ContextSize)
            {
                throw new ConfigurationException(
                    $"Inference:MaxTokens ({defaults.MaxTokens}) must be smaller than Inference:{prefix}:ContextSize ({model.ContextSize}).");
            }

            list.Add(model);
        }

        return list;
    }

    private static readonly string[] s_poolings = ["none", "mean", "cls", "last", "rank"];

    private static string? PoolingOf(IConfigurationSection section, string? prefix = null) =>
        Text(section, nameof(Pooling)) is not { } pooling ? null
        : s_poolings.Contains(pooling, StringComparer.Ordinal) ? pooling
        : throw new ConfigurationException(
            $"Inference:{(prefix is null ? "" : prefix + ":")}Pooling '{pooling}' must be one of {string.Join(", ", s_poolings)}.");

    private static bool Flag(IConfigurationSection section, string key, string? prefix = null) =>
        Text(section, key) is not { } text ? false
        : bool.TryParse(text, out var value) ? value
        : throw new ConfigurationException($"Inference:{(prefix is null ? "" : prefix + ":")}{key} '{text}' must be true or false.");

    private static string? Text(IConfigurationSection section, string key) =>
        section[key] is { Length: > 0 } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    private static int Integer(IConfigurationSection section, string key, int fallback, int min, int max,
        string? prefix = null) =>
        (int)Integer(section, key, fallback, min, (long)max, prefix);

    private static long Integer(IConfigurationSection section, string key, long fallback, long min, long max,
        string? prefix = null)
    {
        if (Text(section, key) is not { } text)
        {
            return fallback;
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            var name = prefix is null ? key : $"{prefix}:{key}";
            throw new ConfigurationException($"Inference:{name} '{text}' must be a whole number from {min} to {max}.");
        }

        return value;
    }

    private static double Number(IConfigurationSection section, string key, double fallback, double min, double max)
    {
        if (Text(section, key) is not { } text)
        {
            return fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ConfigurationException(
                string.Create(CultureInfo.InvariantCulture, $"Inference:{key} '{text}' must be a number from {min} to {max}."));
        }

        return value;
    }
}

/// <summary>
/// One model of Inference:Models: its public name, its GGUF file, and its own llama-server's slots, context per slot
/// and GPU layers. <see cref="Setting"/> names it in errors ("Inference:Models:1").
/// </summary>
public sealed record LlamaModel(string Name, string ModelPath, int Parallel, int ContextSize, int GpuLayers, string Setting)
{
    /// <summary>It makes embeddings (<see cref="LlamaCppOptions.Embeddings"/>), pooled as <see cref="Pooling"/> says.</summary>
    public bool Embeddings { get; init; }

    public string? Pooling { get; init; }

    /// <summary>Its multimodal projector (<see cref="LlamaCppOptions.Mmproj"/>): it takes images.</summary>
    public string? Mmproj { get; init; }
}
