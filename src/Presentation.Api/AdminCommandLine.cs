using FluentValidation;
using MediatR;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.HostTokens;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Backup;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Telemetry;

namespace MeatLizard.Presentation.Api;

/// <summary>
/// The first admin, from the operator's side: the setup link printed at start while there is no admin, and the
/// <c>admin promote USER</c>, <c>admin demote USER</c> and <c>admin setup-link</c> verbs, and the direct relay's host
/// tokens (<c>hosts add NAME</c>, printed once, <c>hosts revoke NAME</c>, <c>hosts list</c>), run instead of serving with
/// the host's configuration. The verbs are the admin commands the web console sends, audited as <c>cli</c>.
/// </summary>
public static class AdminCommandLine
{
    public static bool IsAdminVerb(string[] args) => BackupCommandLine.Verb(args) is ["admin", ..] or ["hosts", ..];

    /// <summary>
    /// While there is no admin: a new setup link, written to the console once for the operator (never to the logs:
    /// it is a secret until used). With <c>Logging:Format=Json</c> the console is a log stream that is shipped and
    /// kept: no link is made then, and one log line says to run <c>admin setup-link</c>.
    /// </summary>
    public static async Task PrintSetupLinkAsync(WebApplication app, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(app);
        await using var scope = app.Services.CreateAsyncScope();
        if (TelemetryRegistration.ReadLogFormat(app.Configuration) == "json")
        {
            if (await scope.ServiceProvider.GetRequiredService<IUserRepository>().CountAdminsAsync(CancellationToken.None) == 0)
            {
                app.Logger.LogWarning(
                    "No admin yet: run `admin setup-link` on the API host for the one-time link that registers the first admin");
            }

            return;
        }

        var baseUrl = string.Join(';', app.Urls);
        if (await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new CreateSetupLink()) is { } setup)
        {
            await output.WriteLineAsync(
                $"No admin yet. To make the first admin, open this link by {setup.ExpiresAt:yyyy-MM-dd HH:mm} UTC " +
                $"(it works once; keep it to yourself):{Environment.NewLine}  {LinkOf(baseUrl, setup.Token)}");
        }
    }

    /// <summary>Runs the verb; returns the process exit code (1 with one line on <paramref name="error"/> when refused).</summary>
    public static async Task<int> RunAsync(string[] args, IServiceProvider services, string? baseUrl, TextWriter output,
        TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        await using var scope = services.CreateAsyncScope();
        var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();
        try
        {
            switch (BackupCommandLine.Verb(args))
            {
                case ["admin", "promote", var user]:
                    var promoted = await mediator.Send(new PromoteUser(AdminActors.CommandLine, user));
                    await output.WriteLineAsync($"{promoted.Username} is an admin{(promoted.Changed ? " now" : " already")}.");
                    return 0;
                case ["admin", "demote", var user]:
                    var demoted = await mediator.Send(new DemoteUser(AdminActors.CommandLine, user));
                    await output.WriteLineAsync($"{demoted.Username} is {(demoted.Changed ? "no longer" : "not")} an admin.");
                    return 0;
                case ["admin", "setup-link"]:
                    if (await mediator.Send(new CreateSetupLink()) is not { } setup)
                    {
                        await error.WriteLineAsync("There is an admin already: use `admin promote USER` to make another.");
                        return 1;
                    }

                    await output.WriteLineAsync(LinkOf(baseUrl, setup.Token));
                    return 0;
                case ["hosts", "add", var name]:
                    var made = await mediator.Send(new CreateHostToken(AdminActors.CommandLine, name));
                    await output.WriteLineAsync(
                        $"Host {made.Name}'s token (shown this once; set it as Relay:HostToken on that host):{Environment.NewLine}  {made.Token}");
                    await PrintHostSettingsAsync(services, made.Name, output);
                    return 0;
                case ["hosts", "revoke", var name]:
                    await mediator.Send(new RevokeHostToken(AdminActors.CommandLine, name));
                    await output.WriteLineAsync($"Host {name}'s token is revoked: the host is let in no more.");
                    return 0;
                case ["hosts", "list"]:
                    foreach (var token in await mediator.Send(new ListHostTokens(AdminActors.CommandLine)))
                    {
                        await output.WriteLineAsync(
                            $"{token.Name}\t{(token.RevokedAt is { } revoked ? $"revoked {revoked:yyyy-MM-dd HH:mm}" : "live")}\tmade {token.CreatedAt:yyyy-MM-dd HH:mm} by {token.CreatedBy}\t{(token.LastUsedAt is { } used ? $"last connected {used:yyyy-MM-dd HH:mm}" : "never connected")}");
                    }

                    return 0;
                default:
                    await output.WriteLineAsync(
                        "usage: admin promote USER | admin demote USER | admin setup-link | hosts add NAME | hosts revoke NAME | hosts list");
                    return 2;
            }
        }
        catch (Exception ex) when (ex is DomainException or NotFoundException or ConflictException or ValidationException)
        {
            await error.WriteLineAsync(ex is ValidationException invalid
                ? string.Join(" ", invalid.Errors.Select(e => e.ErrorMessage))
                : ex.Message);
            return 1;
        }
    }

    /// <summary>
    /// The rest of the direct relay's setup, after the token, as the server bot's <c>setup</c> prints the client bot's
    /// settings: with the direct relay running here, this API's relay keys by fingerprint (as <c>doctor</c> prints
    /// them; the host's must match) and the settings the host needs; without it, that no host can dial in yet.
    /// </summary>
    private static async Task PrintHostSettingsAsync(IServiceProvider services, string name, TextWriter output)
    {
        var transport = services.GetRequiredService<InfrastructureSettings>().Transport;
        if (transport != RelayTransportKind.Direct)
        {
            await output.WriteLineAsync(
                $"This API does not run the direct relay (Relay:Transport is {transport}): {name} cannot dial in with the token until it does (set Relay:Transport=Direct and Relay:Keys here, then start the API again).");
            return;
        }

        foreach (var line in await new RelayKeysDoctorCheck(services.GetRequiredService<RelayKeyRing>()).RunAsync(CancellationToken.None))
        {
            await output.WriteLineAsync(line.ToString());
        }

        await output.WriteLineAsync(
            $"{name}'s client bot settings: Relay:Transport=Direct Relay:ServerUrl=<this API's address as {name} reaches it> "
            + $"Relay:HostToken=<the token above> Relay:Keys=<the keys above>; then `doctor` on {name} checks that the address takes the token and holds the same keys");
    }

    /// <summary>The web app's setup page at the first address the host listens on (a wildcard as loopback).</summary>
    private static string LinkOf(string? baseUrl, string token)
    {
        var first = (baseUrl ?? "http://127.0.0.1:5080").Split(';', StringSplitOptions.RemoveEmptyEntries)[0].TrimEnd('/');
        foreach (var wildcard in new[] { "://0.0.0.0", "://[::]", "://+", "://*" })
        {
            first = first.Replace(wildcard, "://127.0.0.1", StringComparison.Ordinal);
        }

        return $"{first}/setup?token={Uri.EscapeDataString(token)}";
    }
}
