using Microsoft.AspNetCore.StaticFiles;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// The single-page web app (built by <c>scripts/web.sh</c> into <c>wwwroot</c>), served at <c>/</c>: hashed assets
/// cached for good, <c>index.html</c> for every other page path so links such as <c>/c/{id}</c> survive a reload.
/// API, health and OpenAPI paths never fall back to the page.
/// </summary>
public static class WebApp
{
    private static readonly string[] ReservedPrefixes = ["/api", "/health", "/ready", "/openapi"];

    private const string PagePattern = "{*path:nonfile:regex(^(?!(api|health|ready|openapi)(/|$)).*$)}";

    public static WebApplication UseWebApp(this WebApplication app)
    {
        app.UseSecurityHeaders();
        app.UseCsrfProtection();
        app.UseStaticFiles(new StaticFileOptions
        {
            ContentTypeProvider = new FileExtensionContentTypeProvider(),
            OnPrepareResponse = context =>
            {
                var immutable = context.Context.Request.Path.StartsWithSegments("/assets", StringComparison.Ordinal);
                context.Context.Response.Headers.CacheControl = immutable
                    ? "public, max-age=31536000, immutable"
                    : "no-cache";
            },
        });
        // Page paths only: API paths never reach it, so their own endpoints (and 404/405/415) stand.
        foreach (var pattern in new[] { "/", PagePattern })
        {
            app.MapMethods(pattern, [HttpMethods.Get, HttpMethods.Head], ServeIndexAsync)
                .WithOrder(int.MaxValue).AllowAnonymous().ExcludeFromDescription();
        }
        return app;
    }

    public static bool IsReserved(PathString path) =>
        ReservedPrefixes.Any(prefix => path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase));

    private static async Task ServeIndexAsync(HttpContext context)
    {
        if (IsReserved(context.Request.Path))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var index = context.RequestServices.GetRequiredService<IWebHostEnvironment>().WebRootFileProvider.GetFileInfo("index.html");
        context.Response.Headers.CacheControl = "no-cache";
        if (!index.Exists)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(
                "The web app is not built. Run scripts/web.sh (./run.sh does it), then reload.", context.RequestAborted);
            return;
        }

        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.SendFileAsync(index, context.RequestAborted);
    }
}

/// <summary>Headers on every answer: no inline or foreign script, no sniffing, no framing, no referrer leaks.</summary>
public static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                headers["Cross-Origin-Opener-Policy"] = "same-origin";
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
                return Task.CompletedTask;
            });
            return next(context);
        });
        return app;
    }
}
