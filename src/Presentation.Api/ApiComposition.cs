using System.Text.Json.Serialization;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Metrics;
using MeatLizard.Presentation.Api.Endpoints;
using MeatLizard.Presentation.Api.OpenAi;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Http.Json;

namespace MeatLizard.Presentation.Api;

/// <summary>The API host's composition: services and the HTTP pipeline.</summary>
public static class ApiComposition
{
    /// <summary>The largest request body accepted; a message's own limit (16,000 characters) is far below it.</summary>
    public const long MaxRequestBodyBytes = 256 * 1024;

    public static WebApplicationBuilder AddApiServices(this WebApplicationBuilder builder, InfrastructureSettings settings)
    {
        var services = builder.Services;
        services.AddHttpContextAccessor();
        // The HTTP request's caller; in a scope the Telegram bot made for a member's question (when this host serves
        // Telegram), that member.
        services.AddCallersBesideChannelMembers<HttpCurrentUser>();
        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemDetailsExceptionHandler>();
        // Since .NET 10 the middleware records nothing of an exception an IExceptionHandler answered: a fault (a 500)
        // is logged there unless the mediator's pipeline logged it on its way out.
        services.Configure<ExceptionHandlerOptions>(o => o.SuppressDiagnosticsCallback = context =>
            !ProblemDetailsExceptionHandler.IsFault(context.HttpContext, context.Exception)
            || LoggedFaults.Contains(context.Exception));
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase));
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        });

        // Malformed bodies throw, so the exception handler answers with a ProblemDetails naming the field.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = MaxRequestBodyBytes);
        services.AddOpenApi(o => o.AddDocumentTransformer(ChatEventSchemas.AddAsync)
            .AddDocumentTransformer(WrittenJsonSchemas.DescribeAsync)
            .AddDocumentTransformer(SharedProblemResponses.ShareAsync));
        services.AddReverseProxySupport(builder.Configuration);
        ClientTraceContext.AddClientTraceContext(services, builder.Configuration);
        services.AddSingleton<PlatformStatusCache>();
        services.AddScoped<UserConcurrency>();
        services.AddHostedService<Application.Transcripts.TranscriptRetentionSweeper>();
        services.AddSingleton<Application.Chats.ForgottenChatSweeper>();
        services.AddHostedService(provider => provider.GetRequiredService<Application.Chats.ForgottenChatSweeper>());
        services.AddHostedService<Application.Auth.ErasedAccountSweeper>();
        services.AddMeatLizardAuthentication(builder.Configuration, settings);
        services.AddMetricsExposition(builder.Configuration, sampleStatus: true);
        services.AddSingleton<HttpMetrics>();
        return builder;
    }

    public static WebApplication MapApi(this WebApplication app)
    {
        app.UseHttpMetrics();
        app.UseReverseProxySupport();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseWebSockets();
        app.UseWebApp();
        app.UseAuthentication();
        app.UseSignInValidation();
        app.UseAuthorization();

        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapHealthEndpoints();
        app.MapMetricsEndpoint();
        var api = app.MapGroup("/api/v1");
        api.MapAuthEndpoints();
        api.MapSessionEndpoints();
        api.MapConversationEndpoints();
        api.MapStreamEndpoints();
        api.MapStatusEndpoints();
        api.MapAdminEndpoints();
        api.MapObjectEndpoints();
        api.MapSearchEndpoints();
        api.MapShareEndpoints();
        api.MapOrganisingEndpoints();
        api.MapImportEndpoints();
        api.MapPersonaEndpoints();
        api.MapFeedbackEndpoints();
        app.MapOpenAiEndpoints();
        app.MapDirectRelayEndpoint();
        return app;
    }
}
