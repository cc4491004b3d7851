using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Common;

/// <summary>Relay timing (section "Relay"). Keys and the transport are read by Infrastructure.</summary>
public sealed class RelayOptions
{
    public const string Section = "Relay";

    /// <summary>How long a worker has to acknowledge a request before the fallback answers.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a worker may hold back its acknowledgement hoping to send the first output instead: a partial, final
    /// or error acknowledges the request by itself, so a fast engine costs one envelope less per answer. A slow one
    /// (model loading, long prompt) still acks after this delay, well inside <see cref="AckTimeout"/>.
    /// </summary>
    public TimeSpan AckDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a whole answer may take.</summary>
    public TimeSpan CompletionTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>How often a worker sends accumulated output (Discord allows about one message per second).</summary>
    public TimeSpan PartialInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How far an envelope's sentAt may be from now.</summary>
    public TimeSpan FreshnessWindow { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A worker with no heartbeat for this long counts as offline.</summary>
    public TimeSpan WorkerTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How often the dispatcher looks for pending or overdue requests when nothing wakes it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a dispatcher holds the pending requests it claimed: longer than dispatching takes, short enough that
    /// requests claimed by a dispatcher that died are picked up again soon.
    /// </summary>
    public TimeSpan DispatchLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many history messages a prompt may hold at most before the token budget cuts further.</summary>
    public int MaxHistoryMessages { get; set; } = 200;
}

/// <summary>Section "Fallback".</summary>
public sealed class FallbackOptions
{
    public const string Section = "Fallback";

    public FallbackMode Mode { get; set; } = FallbackMode.Inform;
}

/// <summary>Section "RateLimits": token buckets per user and per client IP.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    public int PerUserPerMinute { get; set; } = 30;

    public int UserBurst { get; set; } = 10;

    public int PerIpPerMinute { get; set; } = 120;

    public int IpBurst { get; set; } = 30;

    /// <summary>Per guild (or admin-set group) of users; 0 = unlimited.</summary>
    public int PerGuildPerMinute { get; set; }

    public int GuildBurst { get; set; } = 60;

    public RateLimit For(RateLimitScope scope) => scope switch
    {
        RateLimitScope.User => new RateLimit(PerUserPerMinute, UserBurst),
        RateLimitScope.Ip => new RateLimit(PerIpPerMinute, IpBurst),
        RateLimitScope.Guild => new RateLimit(PerGuildPerMinute, GuildBurst),
        _ => throw new ArgumentOutOfRangeException(nameof(scope), scope, "Unknown rate-limit scope."),
    };
}

/// <summary>Section "Inference": what the worker runs and the prompt budget the dispatcher keeps to.</summary>
public sealed class InferenceOptions
{
    public const string Section = "Inference";

    /// <summary>"None" (no worker; the fallback answers), or an engine name (LlamaServer, LlamaCli) once built.</summary>
    public string Engine { get; set; } = "None";

    public string? LlamaCppDir { get; set; }

    public string? ModelPath { get; set; }

    /// <summary>The model's context window in tokens; prompts are cut to fit it with room for the answer.</summary>
    public int ContextSize { get; set; } = 4096;

    public int GpuLayers { get; set; }

    public int Threads { get; set; }

    /// <summary>The answer length used when neither the message nor the chat sets one.</summary>
    public int MaxTokens { get; set; } = 512;

    /// <summary>The model name reported when a chat does not choose one.</summary>
    public string DefaultModel { get; set; } = "default";
}
