using Microsoft.Extensions.DependencyInjection.Extensions;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Telegram;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Persistence.Sql;

internal static class SqlLayerRegistration
{
    /// <summary>
    /// The repositories and read models both databases share, over the database's session (one per DI scope, also the
    /// unit of work) and its dialect. Called last by each database's registration, after what is its own.
    /// </summary>
    public static IServiceCollection AddSqlLayer<TSession>(this IServiceCollection services, SqlDialect dialect)
        where TSession : class, IDatabaseSession, IUnitOfWork
    {
        SqlValueHandlers.Register();
        services.AddScoped<TSession>();
        services.AddScoped<IUnitOfWork>(provider => provider.GetRequiredService<TSession>());
        services.AddScoped<IDatabaseSession>(provider => provider.GetRequiredService<TSession>());
        services.AddSingleton(dialect);
        services.AddScoped<IUserRepository, SqlUserRepository>();
        services.AddScoped<IApiKeyRepository, SqlApiKeyRepository>();
        services.AddScoped<IChatRepository, SqlChatRepository>();
        services.AddScoped<IMessageRepository, SqlMessageRepository>();
        services.AddScoped<IChatReadModel, SqlChatReadModel>();
        services.AddScoped<IChatTree, SqlChatTree>();
        services.AddScoped<IAuditLog, SqlAuditLog>();
        services.AddScoped<ISettingsStore, SqlSettingsStore>();
        services.AddScoped<IAdminReadModel, SqlAdminReadModel>();
        services.AddScoped<IAdminConsoleReads, SqlAdminConsoleReads>();
        services.AddScoped<SqlUserUsage>();
        services.AddScoped<IUsageRecorder>(provider => provider.GetRequiredService<SqlUserUsage>());
        services.AddScoped<IUsageBatchWriter>(provider => provider.GetRequiredService<SqlUserUsage>());
        services.AddScoped<IRelayCursorStore, SqlRelayCursorStore>();
        services.AddScoped<IRelayChatChannels, SqlRelayChatChannels>();
        services.AddScoped<IDutyLeases, SqlDutyLeases>();
        services.AddScoped<ITelegramUpdateInbox, SqlTelegramUpdateInbox>();
        // The channel stores date their rows; a host that set no clock gets the system's.
        services.TryAddSingleton<IClock, SystemClock>();
        services.AddScoped<IChannelIdentityStore, SqlChannelIdentityStore>();
        services.AddScoped<IChannelConversationStore, SqlChannelConversationStore>();
        services.AddScoped<ILinkCodeStore, SqlLinkCodeStore>();
        services.AddScoped<IInviteRepository, SqlInviteRepository>();
        services.AddScoped<IPasswordResets, SqlPasswordResets>();
        services.AddScoped<IRelayHostTokens, SqlRelayHostTokens>();
        services.AddScoped<IShareLinkStore, SqlShareLinkStore>();
        services.AddScoped<IFeedbackStore, SqlFeedbackStore>();
        services.AddScoped<IPersonaRepository, SqlPersonaRepository>();
        services.AddScoped<IErasedAccounts, SqlErasedAccounts>();
        services.AddScoped<IChatOrganisation, SqlChatOrganisation>();
        services.AddScoped<IChatImports, SqlChatImports>();
        return services;
    }
}
