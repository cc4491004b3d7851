using System.Globalization;
using MediatR;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Discord.Setup;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Persistence;

namespace MeatLizard.Presentation.DiscordServer;

/// <summary>
/// <c>setup --admin USER</c>: makes a web account an admin in the database the server bot shares with the API, with the
/// command the API host's <c>admin promote</c> and the web console send (<see cref="PromoteUser"/>, audited as
/// <c>cli</c>). While the platform has no admin and no such account, it makes the one-time setup link instead
/// (<see cref="CreateSetupLink"/>, as the API host does at start): whoever registers through it is the first admin.
/// Checked with Discord's checks, before anything is changed: the name, and the database (configured, reachable, not
/// newer than this build). It brings the schema up to date first, as the server bot does at start, since setup runs
/// before the first start.
/// </summary>
public sealed class WebAdminSetup(
    string user, IServiceScopeFactory scopes, IDatabaseStatus database, IDatabaseInitializer schema, InfrastructureSettings settings,
    string? publicBaseUrl) : ISetupStep
{
    public const string Check = "web admin";

    public async Task<IReadOnlyList<DoctorResult>> CheckAsync(CancellationToken cancellationToken)
    {
        if (NameRefused(user) is { } refused)
        {
            return [refused];
        }

        return await new DatabaseDoctorCheck(database, settings).RunAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        var lines = new List<DoctorResult>();
        var pending = (await database.ReadAsync(cancellationToken)).Pending.Count;
        await schema.InitializeAsync(cancellationToken);
        if (pending > 0)
        {
            lines.Add(DoctorResult.Pass("database", $"applied {pending} migration{(pending == 1 ? "" : "s")}, as the server bot does at start"));
        }

        lines.Add(await AdminAsync(cancellationToken));
        return lines;
    }

    private async Task<DoctorResult> AdminAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();
        try
        {
            var promoted = await mediator.Send(new PromoteUser(AdminActors.CommandLine, user), cancellationToken);
            return DoctorResult.Pass(Check, promoted.Changed
                ? $"{promoted.Username} is an admin now (audited as cli)"
                : $"{promoted.Username} is an admin already");
        }
        catch (NotFoundException missing)
        {
            // No such account: on a platform with no admin yet, the link that registers the first one.
            if (await mediator.Send(new CreateSetupLink(), cancellationToken) is not { } setup)
            {
                return DoctorResult.Fail(Check, missing.Message,
                    $"register {user} in the web app first, then run setup --admin {user} again (or promote an account in the admin console)");
            }

            var link = "/setup?token=" + Uri.EscapeDataString(setup.Token);
            var full = !string.IsNullOrWhiteSpace(publicBaseUrl);
            return DoctorResult.Pass(Check,
                $"no account {user} and no admin yet: the first admin registers at {(full ? publicBaseUrl!.TrimEnd('/') : "")}{link} until " +
                $"{setup.ExpiresAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC (it works once; keep it to yourself)" +
                (full ? "" : " — a path on the web app's address: set Discord:PublicBaseUrl for a full link"));
        }
        catch (DomainException refused)
        {
            return DoctorResult.Fail(Check, $"{user}: {refused.Message}",
                $"unban or approve {user} first (the admin console's Users, or Discord's /unban or /approve), then run setup --admin {user} again");
        }
    }

    /// <summary>The name as the command's own validator judges it; null when it passes.</summary>
    public static DoctorResult? NameRefused(string user)
    {
        var result = new PromoteUserValidator().Validate(new PromoteUser(AdminActors.CommandLine, user));
        return result.IsValid
            ? null
            : DoctorResult.Fail(Check, $"--admin '{user}' names no account", string.Join(" ", result.Errors.Select(e => e.ErrorMessage)));
    }

    /// <summary>
    /// True when the settings name a database: <c>Storage:Provider</c> (the API's, e.g. Postgres with
    /// <c>ConnectionStrings:Postgres</c>) or <c>ConnectionStrings:Sqlite</c>. Setup needs none for Discord, and a
    /// default SQLite file in the working folder would be a new, empty platform rather than the API's.
    /// </summary>
    public static bool DatabaseConfigured(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return !string.IsNullOrWhiteSpace(configuration["Storage:Provider"])
               || !string.IsNullOrWhiteSpace(configuration.GetConnectionString("Sqlite"));
    }

    /// <summary>The step when no database is configured: one line naming the setting, and nothing is changed.</summary>
    public sealed class WithoutDatabase(string user) : ISetupStep
    {
        public Task<IReadOnlyList<DoctorResult>> CheckAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<DoctorResult>>([NameRefused(user) ?? DoctorResult.Fail(Check,
                $"no database is configured, so setup cannot make {user} an admin",
                "set Storage:Provider (Postgres, with ConnectionStrings:Postgres) to the API's database, as the server bot runs with, " +
                $"or run the API host's `admin promote {user}`")]);

        public Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<DoctorResult>>([]);
    }
}
