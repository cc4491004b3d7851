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
        services.AddDeferred();
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
            .AddRequestHandler<Chats.Commands.CreateChatHandler>()
            .AddRequestHandler<Chats.Commands.UpdateChatHandler>()
            .AddRequestHandler<Chats.Commands.CloseChatHandler>()
            .AddRequestHandler<Chats.Queries.ListChatsHandler>()
            .AddRequestHandler<Chats.Queries.GetChatHandler>()
            .AddRequestHandler<Chats.Queries.GetTranscriptHandler>()
            .AddRequestHandler<Chats.Queries.GetChatImageHandler>()
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
            .AddRequestHandler<Sharing.Queries.GetSharedImageHandler>()
            .AddRequestHandler<Feedback.Commands.RateAnswerHandler>()
            .AddRequestHandler<Feedback.Commands.WithdrawRatingHandler>()
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
            .AddValidator<Feedback.Commands.WithdrawRating, Feedback.Commands.WithdrawRatingValidator>()
            .AddValidator<Admin.Commands.BanUser, Admin.Commands.BanUserValidator>()
            .AddValidator<Admin.Commands.UnbanUser, Admin.Commands.UnbanUserValidator>()
            .AddValidator<Admin.Commands.DrainHost, Admin.Commands.DrainHostValidator>()
            .AddValidator<Admin.Commands.SetRateLimit, Admin.Commands.SetRateLimitValidator>()
            .AddValidator<Admin.Commands.SetDefaultModel, Admin.Commands.SetDefaultModelValidator>()
            .AddValidator<Admin.Commands.SetFallbackMode, Admin.Commands.SetFallbackModeValidator>()
            .AddValidator<Chats.Commands.CloseChat, Chats.Commands.CloseChatValidator>()
            .AddValidator<Transcripts.Commands.StoreTranscript, Transcripts.Commands.StoreTranscriptValidator>()
            .AddValidator<Admin.Queries.ListEveryonesChats, Admin.Queries.ListEveryonesChatsValidator>()
            .AddValidator<Admin.Queries.GetAdminMetrics, Admin.Queries.GetAdminMetricsValidator>()
            .AddValidator<Channels.Commands.ManageChatChannels, Channels.Commands.ManageChatChannelsValidator>()
            .AddValidator<Channels.Commands.SetChannelModel, Channels.Commands.SetChannelModelValidator>();

        // Order matters: the first registered runs outermost. The audit and the rate limits are constrained to the
        // requests they act on (IAuditedRequest, IRateLimitedRequest): the container skips them for every other request.
        // Those two act for the request's caller (scoped); the others hold nothing of a request (loggers, metrics, the
        // validators, which are singletons) and are made once per process, not again in every request's scope.
        services.AddSingleton(typeof(IPipelineBehavior<,>), typeof(UnhandledExceptionBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(Admin.AdminAuditBehaviour<,>));
        services.AddSingleton(typeof(IPipelineBehavior<,>), typeof(ValidationBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(RateLimitBehaviour<,>));
        services.AddSingleton(typeof(IPipelineBehavior<,>), typeof(PerformanceBehaviour<,>));

        services.AddApplicationOptions(builder.Configuration);

        services.AddMetrics();
        services.AddSingleton<PlatformMetrics>();
        Messages.Caching.AnswerCacheRegistration.AddAnswerCache(services, builder.Configuration);
        services.AddSingleton<Common.Behaviours.UnavailableLog>();
        services.AddSingleton<Auth.Commands.RefusedApiKeys>();
        services.AddSingleton<Messages.KnownChats>();
        services.AddScoped<Messages.QuestionQueue>();
        services.TryAddSingleton<Messages.IQuestionHandOff, Messages.DispatcherWake>();
        services.AddScoped<Messages.NewChats>();
        services.AddScoped<Messages.QuestionTransactions>();
        services.AddScoped<Messages.Asking>();
        services.AddScoped<Messages.AnswerFollower>();
        // One process keeps no answer's pieces elsewhere; with Redis, every relay server process and API instance does.
        services.TryAddSingleton<Abstractions.IAnswerPieces, Abstractions.NoAnswerPieces>();
        services.AddScoped<OpenAi.Commands.ConversationChats>();
        services.TryAddSingleton<Messages.ChatImages>();
        services.AddSingleton<HostJobs>();
        services.AddScoped<UserAccess>();
        services.AddScoped<Auth.StoredAccounts>();
        services.AddScoped<Chats.Commands.ChatClosing>();
        services.AddScoped<Chats.Commands.TranscriptOnClose>();
        // Parts that keep nothing of a request and take only process-wide services are made once per process: a scoped
        // one was made again in every request's scope (and every relay packet's) that reached it.
        services.AddSingleton<ChatModels>();
        services.AddSingleton<PromptBuilder>();
        services.AddSingleton<OpenAi.ModelCatalog>();
        services.AddSingleton<Messages.QuestionImages>();
        services.AddScoped<Status.Queries.PlatformStatusReader>();
        services.AddScoped<Status.ServerBotsOnline>();
        services.AddScoped<Auth.SignInCheck>();
        services.AddScoped<TranscriptArchive>();
        services.AddSingleton<TranscriptRetention>();
        services.TryAddSingleton<Abstractions.IRelayReachability, Abstractions.AlwaysReachable>();
        services.TryAddSingleton<Abstractions.IRelayListening, Abstractions.ListeningFromTheStart>();
        // A host without a relay channel to retire (the client bot, tests) is told of nothing; the others register theirs.
        services.TryAddSingleton<Abstractions.IChatClosedSignal, Abstractions.NoChatClosedSignal>();
        services.AddScoped<Admin.Commands.AdminSettingsWriter>();
        Admin.AccountAdministration.AddAccountAdministration(services, builder.Configuration);
        Admin.AdminConsole.AddAdminConsole(services);
        Admin.HostTokens.HostTokenAdministration.AddHostTokens(services);
        Personas.PersonaServices.AddPersonasAndAccountData(services);
        Chats.Organising.OrganisingServices.AddChatOrganising(services);
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
