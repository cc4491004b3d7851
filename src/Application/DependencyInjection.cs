using FluentValidation;
using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Transcripts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Application;

public static class DependencyInjection
{
    /// <summary>
    /// MediatR (5.1.0 has no DI package) with the handlers every host can serve, listed here by name, validators,
    /// settings and services. The relay's own handlers come with <see cref="RelayRegistration.AddRelayServer"/>
    /// and <see cref="RelayRegistration.AddRelayWorker"/>; a test fails when a handler is in no list.
    /// </summary>
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;

        services.AddScoped<ServiceFactory>(provider => provider.GetService!);
        services.AddScoped<IMediator, Mediator>();
        services.AddScoped<Channels.LinkedAccounts>();
        services
            .AddRequestHandler<Embeddings.Commands.CreateEmbeddingsHandler>()
            .AddRequestHandler<Auth.Commands.RegisterUserHandler>()
            .AddRequestHandler<Auth.Commands.LogInHandler>()
            .AddRequestHandler<Auth.Commands.EndSignInSessionHandler>()
            .AddRequestHandler<Auth.Commands.EndEverySignInHandler>()
            .AddRequestHandler<Auth.Commands.ResetPasswordHandler>()
            .AddRequestHandler<Auth.Commands.ChangePasswordHandler>()
            .AddRequestHandler<Auth.Commands.CreateApiKeyHandler>()
            .AddRequestHandler<Auth.Commands.RevokeApiKeyHandler>()
            .AddRequestHandler<Auth.Commands.AuthenticateApiKeyHandler>()
            .AddRequestHandler<Auth.Queries.ListApiKeysHandler>()
            .AddRequestHandler<Auth.Queries.ExportMyDataHandler>()
            .AddRequestHandler<Sessions.Commands.CreateSessionHandler>()
            .AddRequestHandler<Sessions.Commands.UpdateSessionHandler>()
            .AddRequestHandler<Sessions.Commands.CloseSessionHandler>()
            .AddRequestHandler<Sessions.Queries.ListSessionsHandler>()
            .AddRequestHandler<Sessions.Queries.GetSessionHandler>()
            .AddRequestHandler<Sessions.Queries.GetTranscriptHandler>()
            .AddRequestHandler<Messages.Commands.SendMessageHandler>()
            .AddRequestHandler<Messages.Commands.AskAgainHandler>()
            .AddRequestHandler<Messages.Commands.SelectVersionHandler>()
            .AddRequestHandler<Messages.Commands.WaitForAnswerHandler>()
            .AddRequestHandler<Messages.Commands.CancelGenerationHandler>()
            .AddRequestHandler<Messages.Queries.GetMessagesHandler>()
            .AddRequestHandler<Search.Queries.SearchChatsHandler>()
            .AddRequestHandler<Sharing.Commands.CreateShareLinkHandler>()
            .AddRequestHandler<Sharing.Commands.RevokeShareLinkHandler>()
            .AddRequestHandler<Sharing.Queries.ListShareLinksHandler>()
            .AddRequestHandler<Sharing.Queries.GetSharedChatHandler>()
            .AddRequestHandler<Feedback.Commands.RateAnswerHandler>()
            .AddRequestHandler<Feedback.Queries.ListChatFeedbackHandler>()
            .AddRequestHandler<Admin.Queries.GetFeedbackByModelHandler>()
            .AddRequestHandler<Messages.Queries.GetGenerationSnapshotHandler>()
            .AddRequestHandler<OpenAi.Commands.CompleteChatHandler>()
            .AddRequestHandler<OpenAi.Queries.ListModelsHandler>()
            .AddRequestHandler<Channels.Commands.CreateLinkCodeHandler>()
            .AddRequestHandler<Channels.Commands.UnlinkAccountHandler>()
            .AddRequestHandler<Channels.Queries.ListLinkedAccountsHandler>()
            .AddRequestHandler<Channels.Commands.ManageChatChannelsHandler>()
            .AddRequestHandler<Channels.Commands.SetChannelModelHandler>()
            .AddRequestHandler<Transcripts.Commands.StoreTranscriptHandler>()
            .AddRequestHandler<Backups.CreateBackupHandler>()
            .AddRequestHandler<Status.Queries.GetPlatformStatusHandler>()
            .AddRequestHandler<Admin.Commands.BanUserHandler>()
            .AddRequestHandler<Admin.Commands.UnbanUserHandler>()
            .AddRequestHandler<Admin.Commands.SetRateLimitHandler>()
            .AddRequestHandler<Admin.Commands.SetDefaultModelHandler>()
            .AddRequestHandler<Admin.Commands.SetFallbackModeHandler>()
            .AddRequestHandler<Admin.Commands.DrainHostHandler>()
            .AddRequestHandler<Admin.Commands.RunBackupHandler>()
            .AddRequestHandler<Admin.Queries.GetAdminStatusHandler>()
            .AddRequestHandler<Admin.Queries.ListEveryonesChatsHandler>()
            .AddRequestHandler<Admin.Queries.GetAdminMetricsHandler>()
            .AddRequestHandler<Admin.Queries.GetMetricsSummaryHandler>();

        // Validators take no dependencies and FluentValidation's are thread-safe once built: one instance per process
        // rather than a rule tree built for every request.
        services
            .AddValidator<Auth.Commands.RegisterUser, Auth.Commands.RegisterUserValidator>()
            .AddValidator<Auth.Commands.LogIn, Auth.Commands.LogInValidator>()
            .AddValidator<Auth.Commands.ChangePassword, Auth.Commands.ChangePasswordValidator>()
            .AddValidator<Auth.Commands.ResetPassword, Auth.Commands.ResetPasswordValidator>()
            .AddValidator<Auth.Commands.CreateApiKey, Auth.Commands.CreateApiKeyValidator>()
            .AddValidator<Messages.Commands.SendMessage, Messages.Commands.SendMessageValidator>()
            .AddValidator<Messages.Commands.EditMessage, Messages.Commands.EditMessageValidator>()
            .AddValidator<Messages.Queries.GetMessages, Messages.Queries.GetMessagesValidator>()
            .AddValidator<Search.Queries.SearchChats, Search.Queries.SearchChatsValidator>()
            .AddValidator<Feedback.Commands.RateAnswer, Feedback.Commands.RateAnswerValidator>()
            .AddValidator<Admin.Commands.BanUser, Admin.Commands.BanUserValidator>()
            .AddValidator<Admin.Commands.UnbanUser, Admin.Commands.UnbanUserValidator>()
            .AddValidator<Admin.Commands.SetRateLimit, Admin.Commands.SetRateLimitValidator>()
            .AddValidator<Admin.Commands.SetDefaultModel, Admin.Commands.SetDefaultModelValidator>()
            .AddValidator<Admin.Commands.SetFallbackMode, Admin.Commands.SetFallbackModeValidator>()
            .AddValidator<Sessions.Commands.CloseSession, Sessions.Commands.CloseSessionValidator>()
            .AddValidator<Transcripts.Commands.StoreTranscript, Transcripts.Commands.StoreTranscriptValidator>()
            .AddValidator<Admin.Queries.ListEveryonesChats, Admin.Queries.ListEveryonesChatsValidator>()
            .AddValidator<Admin.Queries.GetAdminMetrics, Admin.Queries.GetAdminMetricsValidator>()
            .AddValidator<Channels.Commands.ManageChatChannels, Channels.Commands.ManageChatChannelsValidator>()
            .AddValidator<Channels.Commands.SetChannelModel, Channels.Commands.SetChannelModelValidator>();

        // Order matters: the first registered runs outermost.
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(UnhandledExceptionBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(Admin.AdminAuditBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(ValidationBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(RateLimitBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(PerformanceBehaviour<,>));

        // Each rule names its key, so a bad value stops the host with one clear line.
        services.AddOptions<RelayOptions>().Bind(builder.Configuration.GetSection(RelayOptions.Section))
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
            .Validate(o => o.MaxAttempts is >= 1 and <= 10, "Relay:MaxAttempts must be from 1 to 10.")
            .Validate(o => o.EngineLostRetries is >= 0 and <= 10, "Relay:EngineLostRetries must be from 0 to 10.")
            .Validate(o => o.HostFailureRetries is >= 0 and <= 10, "Relay:HostFailureRetries must be from 0 to 10.")
            .Validate(o => o.MaxOutageHold >= TimeSpan.Zero && o.MaxOutageHold <= TimeSpan.FromHours(1),
                "Relay:MaxOutageHold must be from 00:00:00 to 01:00:00, e.g. 00:10:00.")
            .Validate(o => o.MaxQueuePerModel >= 0, "Relay:MaxQueuePerModel must not be negative (0: no limit).")
            .ValidateOnStart();
        services.AddOptions<WorkerOptions>().Bind(builder.Configuration.GetSection(WorkerOptions.Section))
            .Validate(o => o.DrainDeadline > TimeSpan.Zero && o.DrainDeadline <= WorkerOptions.MaxDrainDeadline,
                "Worker:DrainDeadline must be a positive time span of at most 01:00:00, e.g. 00:00:20.")
            .ValidateOnStart();
        services.AddOptions<FallbackOptions>().Bind(builder.Configuration.GetSection(FallbackOptions.Section))
            .Validate(o => Enum.IsDefined(o.Mode), "Fallback:Mode must be Inform or Markov.")
            .ValidateOnStart();
        services.AddOptions<RateLimitOptions>().Bind(builder.Configuration.GetSection(RateLimitOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<RateLimitOptions>, RateLimitOptionsValidation>();
        services.AddOptions<TranscriptOptions>().Bind(builder.Configuration.GetSection(TranscriptOptions.Section))
            .Validate(o => o.LinkLifetime > TimeSpan.Zero && o.LinkLifetime <= TimeSpan.FromDays(7),
                "Transcripts:LinkLifetime must be positive and at most 7 days, e.g. 1.00:00:00.")
            .Validate(o => o.Retention == TimeSpan.Zero || o.Retention >= o.LinkLifetime,
                "Transcripts:Retention must be 00:00:00 (keep forever) or at least Transcripts:LinkLifetime, e.g. 30.00:00:00.")
            .Validate(o => o.RetentionSweepInterval > TimeSpan.Zero,
                "Transcripts:RetentionSweepInterval must be a positive time span, e.g. 01:00:00.")
            .ValidateOnStart();
        services.AddOptions<InferenceOptions>().Bind(builder.Configuration.GetSection(InferenceOptions.Section))
            .Validate(o => o.ContextSize >= 256, "Inference:ContextSize must be at least 256 tokens.")
            .Validate(o => o.MaxTokens is >= 1 and <= Domain.Common.SamplingParameters.MaxTokensLimit,
                $"Inference:MaxTokens must be between 1 and {Domain.Common.SamplingParameters.MaxTokensLimit}.")
            .Validate(o => o.MaxTokens < o.ContextSize, "Inference:MaxTokens must be smaller than Inference:ContextSize.")
            .ValidateOnStart();

        services.AddOptions<OpenAiOptions>().Bind(builder.Configuration.GetSection(OpenAiOptions.Section))
            .Validate(o => o.KeepAliveInterval > TimeSpan.Zero,
                "Api:OpenAi:KeepAliveInterval must be a positive time span, e.g. 00:00:10.")
            .Validate(o => o.MaxEmbeddingInputs >= 1, "Api:OpenAi:MaxEmbeddingInputs must be at least 1.")
            .Validate(o => o.MaxEmbeddingCharacters >= 1, "Api:OpenAi:MaxEmbeddingCharacters must be at least 1.")
            .ValidateOnStart();

        services.AddMetrics();
        services.AddSingleton<PlatformMetrics>();
        Messages.Caching.AnswerCacheRegistration.AddAnswerCache(services, builder.Configuration);
        services.AddSingleton<Common.Behaviours.UnavailableLog>();
        services.AddSingleton<Auth.Commands.RefusedApiKeys>();
        services.AddSingleton<Messages.KnownChats>();
        services.AddScoped<Messages.QuestionQueue>();
        services.AddScoped<Messages.NewChats>();
        services.AddScoped<Messages.QuestionTransactions>();
        services.AddScoped<Messages.Asking>();
        services.AddScoped<Messages.AnswerFollower>();
        services.AddScoped<OpenAi.Commands.ConversationChats>();
        services.AddSingleton<WorkerJobs>();
        services.AddScoped<PromptBuilder>();
        services.AddScoped<OpenAi.ModelCatalog>();
        services.AddScoped<UserAccess>();
        services.AddScoped<Auth.StoredAccounts>();
        services.AddScoped<Sessions.Commands.ChatClosing>();
        services.AddScoped<Sessions.Commands.TranscriptOnClose>();
        services.AddScoped<ChatModels>();
        services.AddScoped<Status.Queries.PlatformStatusReader>();
        services.AddScoped<Status.ServerBotsOnline>();
        services.AddScoped<Auth.SignInCheck>();
        services.AddScoped<TranscriptArchive>();
        services.AddScoped<TranscriptRetention>();
        services.TryAddSingleton<Abstractions.IRelayReachability, Abstractions.AlwaysReachable>();
        services.TryAddSingleton<Abstractions.IRelayListening, Abstractions.ListeningFromTheStart>();
        // A host without a relay channel to retire (the client bot, tests) is told of nothing; the others register theirs.
        services.TryAddSingleton<Abstractions.ISessionClosedSignal, Abstractions.NoSessionClosedSignal>();
        services.AddScoped<Admin.Commands.AdminSettingsWriter>();
        Admin.AccountAdministration.AddAccountAdministration(services, builder.Configuration);
        Admin.AdminConsole.AddAdminConsole(services);
        Personas.PersonaServices.AddPersonasAndAccountData(services);
        Sessions.Organising.OrganisingServices.AddChatOrganising(services);
        Imports.ImportServices.AddChatImports(services, builder.Configuration);
        services.AddRelayCore();
        return builder;
    }

    /// <summary>Registers <typeparamref name="THandler"/> for every request it handles.</summary>
    internal static IServiceCollection AddRequestHandler<THandler>(this IServiceCollection services)
        where THandler : class
    {
        foreach (var contract in typeof(THandler).GetInterfaces()
                     .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IRequestHandler<,>)))
        {
            services.AddScoped(contract, typeof(THandler));
        }

        return services;
    }

    internal static IServiceCollection AddValidator<TRequest, TValidator>(this IServiceCollection services)
        where TValidator : class, IValidator<TRequest> =>
        services.AddSingleton<IValidator<TRequest>, TValidator>();
}
