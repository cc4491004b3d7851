using MeatLizard.Domain.Common;
using Microsoft.Extensions.Configuration;

namespace MeatLizard.Infrastructure.Inference.OpenAiCompatible;

/// <summary>
/// A model the host serves: its public name, and the id the upstream server knows it by. <see cref="Embeddings"/>: it
/// makes embeddings (the host says so, and passes <c>/v1/embeddings</c> through to the upstream), taking OpenAI's
/// <c>dimensions</c> when <see cref="Dimensions"/> says so (as OpenAI's text-embedding-3 models do).
/// <see cref="Vision"/>: it takes images (the host says so, and passes the <c>image_url</c> parts on unchanged).
/// </summary>
public sealed record OpenAiCompatibleModel(string Name, string Upstream)
{
    public bool Embeddings { get; init; }

    public bool Dimensions { get; init; }

    public bool Vision { get; init; }
}

/// <summary>
/// Section "Inference:OpenAiCompatible": where the OpenAI-compatible server is (Ollama, LM Studio, vLLM, llama-server
/// …), its API key if it wants one, and the models this host serves from it. Sampling defaults, the answer length,
/// the context budget, the timeout and the number of answers at once are the shared Inference settings.
/// </summary>
public sealed class OpenAiCompatibleOptions
{
    public const string Section = "Inference:OpenAiCompatible";

    /// <summary>The API root, always ending in "/v1/" (a base URL given without it gets it).</summary>
    public required Uri BaseUrl { get; init; }

    /// <summary>Sent as a bearer token when set; never logged nor shown.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The models served, in the order configured: the first answers requests that name none.</summary>
    public required IReadOnlyList<OpenAiCompatibleModel> Models { get; init; }

    /// <summary>The most retries allowed.</summary>
    public const int MaxRetries = 10;

    /// <summary>
    /// How many times a request the server refused for now (429, 408, 5xx) or could not be sent (connection refused or
    /// reset) is sent again, after a growing pause or the server's <c>Retry-After</c>, within Inference:TimeoutSeconds.
    /// Nothing is sent again once the answer began.
    /// </summary>
    public int Retries { get; init; } = 2;

    /// <summary>
    /// How long one send waits for the answer to begin (its first text or piece of a tool call) before
    /// it is given up on — its connection closed, counted by the breaker as a failure — and, while
    /// <see cref="Retries"/> and Inference:TimeoutSeconds allow, sent again: a server that took the request and then
    /// said nothing (hung, or stopped before the first token) does not eat the whole request's time. Once it began,
    /// the answer is never sent again: it runs on under Inference:TimeoutSeconds alone. Long enough for the server to
    /// load the model and read the longest prompt.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The most failures a breaker may wait for before it opens.</summary>
    public const int MaxBreakAfter = 1000;

    /// <summary>
    /// How many sends in a row within <see cref="BreakWindow"/> — at least half of them refused for now or not
    /// reachable — open the circuit breaker: for <see cref="BreakFor"/> no request goes to the server, the host says in
    /// its heartbeat that it is unavailable (so the server sends its models' questions to other hosts, and the status
    /// shows why), and then one request tries the server again. 0: no breaker.
    /// </summary>
    public int BreakAfter { get; init; } = 5;

    /// <summary>How long an open breaker keeps requests from the server before one tries it again.</summary>
    public TimeSpan BreakFor { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The time over which the breaker counts failures.</summary>
    public static readonly TimeSpan BreakWindow = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Binds and checks the section; throws <see cref="ConfigurationException"/> naming the first bad key. Models are
    /// listed as names (<c>Models:0=llama3.2:3b</c>, the upstream's own id) or as a public name with the upstream id
    /// (<c>Models:0:Name=fast</c>, <c>Models:0:Upstream=qwen2.5:0.5b-instruct</c>).
    /// </summary>
    public static OpenAiCompatibleOptions Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(Section);
        return new OpenAiCompatibleOptions
        {
            BaseUrl = ApiRoot(section["BaseUrl"]),
            ApiKey = section["ApiKey"] is { } key && !string.IsNullOrWhiteSpace(key) ? key.Trim() : null,
            Models = ReadModels(section.GetSection("Models")),
            Retries = ReadRetries(section["Retries"]),
            BreakAfter = ReadBreakAfter(section["BreakAfter"]),
            // Polly's breaker holds at least half a second.
            BreakFor = ReadSeconds(section, "BreakForSeconds", least: 0.5, unset: 30),
            AttemptTimeout = ReadSeconds(section, "AttemptTimeoutSeconds", least: 0.1, unset: 60),
        };
    }

    private static int ReadBreakAfter(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return 5;
        }

        return int.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture,
                   out var failures) && failures <= MaxBreakAfter
            ? failures
            : throw new ConfigurationException(
                $"{Section}:BreakAfter must be a whole number from 0 (no circuit breaker) to {MaxBreakAfter}, e.g. 5.");
    }

    /// <summary>
    /// A length of time given in seconds (fractions allowed) from <paramref name="least"/> to 3600 under
    /// <paramref name="name"/>; <paramref name="unset"/> when it is not set.
    /// </summary>
    private static TimeSpan ReadSeconds(IConfigurationSection section, string name, double least, double unset)
    {
        var text = section[name];
        if (string.IsNullOrWhiteSpace(text))
        {
            return TimeSpan.FromSeconds(unset);
        }

        return double.TryParse(text.Trim(), System.Globalization.NumberStyles.AllowDecimalPoint,
                   System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds >= least && seconds <= 3600
            ? TimeSpan.FromSeconds(seconds)
            : throw new ConfigurationException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{Section}:{name} must be a number of seconds from {least} to 3600, e.g. {unset}."));
    }

    private static int ReadRetries(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return 2;
        }

        return int.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture,
                   out var retries) && retries <= MaxRetries
            ? retries
            : throw new ConfigurationException($"{Section}:Retries must be a whole number from 0 to {MaxRetries}, e.g. 2.");
    }

    private static Uri ApiRoot(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ConfigurationException(
                $"{Section}:BaseUrl is not set: give the OpenAI-compatible server's address, e.g. http://127.0.0.1:11434/v1 for Ollama.");
        }

        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")
            || !string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.Fragment) || !string.IsNullOrEmpty(url.UserInfo))
        {
            // The value itself is not repeated: a URL with user info holds a password.
            throw new ConfigurationException(
                $"{Section}:BaseUrl is not an http(s) address without query or credentials, e.g. http://127.0.0.1:1234/v1.");
        }

        var path = url.AbsolutePath.TrimEnd('/');
        if (!path.EndsWith("/v1", StringComparison.Ordinal))
        {
            path += "/v1";
        }

        return new UriBuilder(url) { Path = path + "/" }.Uri;
    }

    private static bool Flag(IConfigurationSection entry, string key, string name) =>
        entry[name] is not { } text || string.IsNullOrWhiteSpace(text) ? false
        : bool.TryParse(text.Trim(), out var value) ? value
        : throw new ConfigurationException($"{key}:{name} '{text}' must be true or false.");

    private static List<OpenAiCompatibleModel> ReadModels(IConfigurationSection models)
    {
        var list = new List<OpenAiCompatibleModel>();
        foreach (var entry in models.GetChildren())
        {
            var key = $"{Section}:Models:{entry.Key}";
            string? name;
            string? upstream;
            bool embeddings = false, dimensions = false, vision = false;
            if (entry.GetChildren().Any())
            {
                embeddings = Flag(entry, key, "Embeddings");
                dimensions = Flag(entry, key, "Dimensions");
                vision = Flag(entry, key, "Vision");
                key += ":Name";
                name = entry["Name"]?.Trim();
                upstream = entry["Upstream"] is { } id && !string.IsNullOrWhiteSpace(id) ? id.Trim() : name;
            }
            else
            {
                name = upstream = entry.Value?.Trim();
            }

            if (string.IsNullOrEmpty(name))
            {
                throw new ConfigurationException($"{key} is empty: give the model's name.");
            }

            if (!ModelName.IsValid(name))
            {
                throw new ConfigurationException(
                    $"{key} '{name}' is not a model name (1–{ModelName.MaxLength} letters, digits, '.', '_', '-', ':' or '/'); give it one as Name and the server's id as Upstream.");
            }

            if (list.Any(m => m.Name == name))
            {
                throw new ConfigurationException($"{key} '{name}' is listed twice.");
            }

            list.Add(new OpenAiCompatibleModel(name, upstream!)
            {
                Embeddings = embeddings, Dimensions = embeddings && dimensions, Vision = vision && !embeddings,
            });
        }

        if (list.Count == 0)
        {
            throw new ConfigurationException(
                $"{Section}:Models lists no model: name at least one the server serves, e.g. {Section}:Models:0=llama3.2:3b.");
        }

        return list;
    }
}
