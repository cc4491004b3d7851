using MeatLizard.Application.Inference;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Transcripts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Common;

/// <summary>The Application's option sections, bound from configuration and checked when the host starts.</summary>
internal static class OptionsRegistration
{
    public static IServiceCollection AddApplicationOptions(this IServiceCollection services, IConfiguration configuration)
    {
        // Each rule names its key, so a bad value stops the host with one clear line.
        services.AddOptions<RelayOptions>().Bind(configuration.GetSection(RelayOptions.Section))
            .Validate(o => o.AckTimeout > TimeSpan.Zero, "Relay:AckTimeout must be a positive time span, e.g. 00:00:10.")
            .Validate(o => o.AckDelay >= TimeSpan.Zero && o.AckDelay < o.AckTimeout,
                "Relay:AckDelay must not be negative and must be shorter than Relay:AckTimeout.")
            .Validate(o => o.CompletionTimeout > TimeSpan.Zero, "Relay:CompletionTimeout must be a positive time span, e.g. 00:03:00.")
            .Validate(o => o.PartialInterval >= TimeSpan.Zero, "Relay:PartialInterval must not be negative.")
            .Validate(o => o.FreshnessWindow > TimeSpan.Zero, "Relay:FreshnessWindow must be a positive time span.")
            .Validate(o => o.HeartbeatInterval > TimeSpan.Zero, "Relay:HeartbeatInterval must be a positive time span.")
            .Validate(o => o.WorkerTimeout > o.HeartbeatInterval, "Relay:WorkerTimeout must be longer than Relay:HeartbeatInterval.")
            .Validate(o => o.PollInterval > TimeSpan.Zero, "Relay:PollInterval must be a positive time span.")
            .Validate(o => o.DispatchLease > TimeSpan.Zero, "Relay:DispatchLease must be a positive time span, e.g. 00:00:30.")
            .Validate(o => o.MaxHistoryMessages > 0, "Relay:MaxHistoryMessages must be at least 1.")
            .Validate(o => o.MaxImagesPerRequest >= 0, "Relay:MaxImagesPerRequest must not be negative (0: only the question's images).")
            .Validate(o => o.MaxImageBytesPerRequest >= 0,
                "Relay:MaxImageBytesPerRequest must not be negative (0: only the question's images).")
            .Validate(o => o.MaxAttempts is >= 1 and <= 10, "Relay:MaxAttempts must be from 1 to 10.")
            .Validate(o => o.EngineLostRetries is >= 0 and <= 10, "Relay:EngineLostRetries must be from 0 to 10.")
            .Validate(o => o.HostFailureRetries is >= 0 and <= 10, "Relay:HostFailureRetries must be from 0 to 10.")
            .Validate(o => o.MaxOutageHold >= TimeSpan.Zero && o.MaxOutageHold <= TimeSpan.FromHours(1),
                "Relay:MaxOutageHold must be from 00:00:00 to 01:00:00, e.g. 00:10:00.")
            .Validate(o => o.MaxQueuePerModel >= 0, "Relay:MaxQueuePerModel must not be negative (0: no limit).")
            .ValidateOnStart();
        services.AddOptions<ModelHostOptions>().BindHostSections(configuration)
            .Validate(o => o.DrainDeadline > TimeSpan.Zero && o.DrainDeadline <= ModelHostOptions.MaxDrainDeadline,
                "Host:DrainDeadline must be a positive time span of at most 01:00:00, e.g. 00:00:20.")
            .ValidateOnStart();
        services.AddOptions<FallbackOptions>().Bind(configuration.GetSection(FallbackOptions.Section))
            .Validate(o => Enum.IsDefined(o.Mode), "Fallback:Mode must be Inform or Markov.")
            .ValidateOnStart();
        services.AddOptions<RateLimitOptions>().Bind(configuration.GetSection(RateLimitOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<RateLimitOptions>, RateLimitOptionsValidation>();
        services.AddOptions<TranscriptOptions>().Bind(configuration.GetSection(TranscriptOptions.Section))
            .Validate(o => o.LinkLifetime > TimeSpan.Zero && o.LinkLifetime <= TimeSpan.FromDays(7),
                "Transcripts:LinkLifetime must be positive and at most 7 days, e.g. 1.00:00:00.")
            .Validate(o => o.Retention == TimeSpan.Zero || o.Retention >= o.LinkLifetime,
                "Transcripts:Retention must be 00:00:00 (keep forever) or at least Transcripts:LinkLifetime, e.g. 30.00:00:00.")
            .Validate(o => o.RetentionSweepInterval > TimeSpan.Zero,
                "Transcripts:RetentionSweepInterval must be a positive time span, e.g. 01:00:00.")
            .ValidateOnStart();
        services.AddOptions<InferenceOptions>().Bind(configuration.GetSection(InferenceOptions.Section))
            .Validate(o => o.ContextSize >= 256, "Inference:ContextSize must be at least 256 tokens.")
            .Validate(o => o.MaxTokens is >= 1 and <= Domain.Common.SamplingParameters.MaxTokensLimit,
                $"Inference:MaxTokens must be between 1 and {Domain.Common.SamplingParameters.MaxTokensLimit}.")
            .Validate(o => o.MaxTokens < o.ContextSize, "Inference:MaxTokens must be smaller than Inference:ContextSize.")
            .ValidateOnStart();

        services.AddOptions<OpenAiOptions>().Bind(configuration.GetSection(OpenAiOptions.Section))
            .Validate(o => o.KeepAliveInterval > TimeSpan.Zero,
                "Api:OpenAi:KeepAliveInterval must be a positive time span, e.g. 00:00:10.")
            .Validate(o => o.MaxEmbeddingInputs >= 1, "Api:OpenAi:MaxEmbeddingInputs must be at least 1.")
            .Validate(o => o.MaxEmbeddingCharacters >= 1, "Api:OpenAi:MaxEmbeddingCharacters must be at least 1.")
            .Validate(o => o.MaxImageBytes >= 1, "Api:OpenAi:MaxImageBytes must be at least 1.")
            .Validate(o => o.MaxImagePixels >= 1, "Api:OpenAi:MaxImagePixels must be at least 1.")
            .Validate(o => o.MaxImagesPerMessage >= 0, "Api:OpenAi:MaxImagesPerMessage must be 0 (no images) or more.")
            .ValidateOnStart();
        return services;
    }
}
