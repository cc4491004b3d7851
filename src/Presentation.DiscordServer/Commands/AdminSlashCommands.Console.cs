using System.Globalization;
using System.Text;
using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Application.Auth.Queries;
using MeatLizard.Infrastructure.Discord.Rest;

namespace MeatLizard.Presentation.DiscordServer.Commands;

/// <summary>
/// The web console's account and sign-up commands in Discord: deleting a user, invite links, the sign-up policy and the
/// audit log. Each sends the command the console's endpoint sends (so the same rules, limits and audit rows), and reads
/// what it changed the way the console does.
/// </summary>
public static partial class AdminSlashCommands
{
    /// <summary>Shown when <c>/delete-user</c> was sent without <c>confirm: True</c>: nothing is deleted.</summary>
    public const string NotConfirmed =
        "Nothing was deleted. Deleting a user removes their account, chats, messages and files for good: " +
        "run /delete-user again with confirm: True.";

    public const int DefaultAuditEntries = 10;

    private static IReadOnlyList<ApplicationCommand> ConsoleDefinitions =>
    [
        new("delete-user", "Delete a web account and all of its chats, messages and files, for good",
        [
            new(StringOption, "user", "A MeatLizard username", Required: true),
            new(BooleanOption, "confirm", "True to delete: there is no undo", Required: true),
        ]),
        new("invite", "Invite links: each registers one account (when sign-up is by invitation)",
        [
            new(SubCommand, "create", "A new single-use invite link (only you see it)",
                Options: [new(IntegerOption, "hours", $"How long it works, in hours (default {CreateInvite.DefaultHours})", Required: false)]),
            new(SubCommand, "list", "The invites, newest first, with their state"),
            new(SubCommand, "revoke", "Withdraw an unused invite",
                Options: [new(StringOption, "id", "The invite's id, as /invite list shows it", Required: true)]),
        ]),
        new("registration", "Who may sign up on the web app (no policy: show it)",
            [new(StringOption, "policy", "open, approval (an admin approves), invite only, or closed", Required: false,
                Choices: [Choice("open"), Choice("approval"), new("invite only", JsonSerializer.SerializeToElement("inviteOnly")), Choice("closed")])]),
        new("audit", "The audit log, newest first",
        [
            new(IntegerOption, "count", $"How many entries (default {DefaultAuditEntries})", Required: false),
            new(StringOption, "action", "Only this command, e.g. ban or delete user", Required: false),
            new(StringOption, "actor", "Only actors whose name or id contains this", Required: false),
            new(IntegerOption, "before", "Entries older than this number (the previous page's last)", Required: false),
        ]),
    ];

    private static async Task<string> RunConsoleCommandAsync(
        IMediator mediator, SlashInvocation invocation, AdminActor actor, string? publicBaseUrl, CancellationToken cancellationToken)
    {
        switch (invocation.Name, invocation.Subcommand)
        {
            // A non-admin's is sent all the same, so the Application refuses it and audits the refusal.
            case ("delete-user", _) when actor.IsAdmin && invocation.Text("confirm") != "true":
                return NotConfirmed;
            case ("delete-user", _):
                return Describe(await mediator.Send(new DeleteUser(actor, invocation.Text("user") ?? ""), cancellationToken),
                    "deleted, with all of their chats, messages and files");
            case ("invite", "create"):
                return Describe(await mediator.Send(new CreateInvite(actor, invocation.OptionalInteger("hours")), cancellationToken),
                    publicBaseUrl);
            case ("invite", "list"):
                return Describe(await mediator.Send(new ListInvites(actor), cancellationToken));
            case ("invite", _):
                var id = invocation.Id("id");
                return await mediator.Send(new RevokeInvite(actor, id), cancellationToken)
                    ? $"Invite `{id:D}` is revoked: its link registers nobody from now on."
                    : $"Invite `{id:D}` was used or revoked already.";
            case ("registration", _) when invocation.Text("policy") is null:
                // What the sign-in page shows everyone; the Discord command is still the admins'.
                return actor.IsAdmin
                    ? Describe(await mediator.Send(new GetRegistration(), cancellationToken), changed: false)
                    : DiscordAdminCommands.NotAdmin;
            case ("registration", _):
                return Describe(await mediator.Send(new SetRegistrationPolicy(actor, invocation.Text("policy")), cancellationToken),
                    changed: true);
            default:
                var query = new ListAuditLog(actor, invocation.OptionalInteger("before"), invocation.OptionalInteger("count") ?? DefaultAuditEntries,
                    invocation.Text("actor"), invocation.Text("action"));
                return Describe(await mediator.Send(query, cancellationToken), query);
        }
    }

    /// <summary>The link an invite code makes, on the public address when one is configured.</summary>
    public static string Describe(CreatedInviteDto invite, string? publicBaseUrl)
    {
        ArgumentNullException.ThrowIfNull(invite);
        var link = Absolute("/?invite=" + Uri.EscapeDataString(invite.Code), publicBaseUrl);
        return $"Invite link `{invite.Id:D}`, registers one account until {Stamp(invite.ExpiresAt)}: {link}\n" +
               "Only you see this: hand it to the person you invite. /invite revoke withdraws it." +
               (IsWebLink(link) ? "" : "\n(A path on the web app's address: set Discord:PublicBaseUrl for a full link.)");
    }

    /// <summary>The invites, newest first, as many as one message holds.</summary>
    public static string Describe(IReadOnlyList<InviteDto> invites)
    {
        ArgumentNullException.ThrowIfNull(invites);
        if (invites.Count == 0)
        {
            return "There are no invites. /invite create makes one.";
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"**{invites.Count} invite(s)**, newest first");
        var shown = 0;
        foreach (var invite in invites)
        {
            var line = $"• `{invite.Id:D}` **{invite.State}** · made {Stamp(invite.CreatedAt)} by {Safe(invite.CreatedBy)} · until {Stamp(invite.ExpiresAt)}\n";
            if (text.Length + line.Length > DiscordRestClient.MaxContentLength - 60)
            {
                break;
            }

            text.Append(line);
            shown++;
        }

        if (shown < invites.Count)
        {
            text.Append(CultureInfo.InvariantCulture, $"… and {invites.Count - shown} older (the web console lists them all).");
        }

        return Fit(text.ToString().TrimEnd());
    }

    /// <summary>The sign-up policy in force, and what it means.</summary>
    public static string Describe(RegistrationDto registration, bool changed)
    {
        ArgumentNullException.ThrowIfNull(registration);
        var meaning = registration.Policy switch
        {
            "open" => "anyone may register",
            "approval" => "new accounts wait until an admin approves them (/approve)",
            "inviteOnly" => "only with an invite link (/invite create)",
            _ => "nobody may register",
        };
        return $"Sign-up is {(changed ? "now " : "")}**{registration.Policy}**: {meaning}." +
               (registration.AdminSetUp ? "" : " No web admin has registered yet.");
    }

    /// <summary>
    /// A page of the audit log: as many of its rows as one message holds, and the option that reads on from the last
    /// one shown.
    /// </summary>
    public static string Describe(AuditPageDto page, ListAuditLog query)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(query);
        var filters = string.Concat(
            query.Command is { Length: > 0 } command ? $" action:{command}" : "",
            query.ActorContains is { Length: > 0 } actor ? $" actor:{actor}" : "");
        if (page.Entries.Count == 0)
        {
            return query.Before is null ? $"The audit log has no entries{(filters.Length > 0 ? " matching" + Safe(filters) : "")}." : "There are no older entries.";
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"**Audit log**, newest first{(filters.Length > 0 ? " ·" + Safe(filters) : "")}");
        long? next = page.NextBefore;
        foreach (var row in page.Entries)
        {
            var line = AuditLine(row);
            // Room is kept for the line that says how to read on.
            if (text.Length + line.Length > DiscordRestClient.MaxContentLength - 100)
            {
                break;
            }

            text.Append(line);
            next = row == page.Entries[^1] ? page.NextBefore : row.Id;
        }

        text.Append(next is { } before
            ? string.Create(CultureInfo.InvariantCulture, $"Older: `/audit before:{before}{filters}`")
            : "That is the oldest entry.");
        return Fit(text.ToString());
    }

    private static string AuditLine(AuditRowDto row)
    {
        var arguments = row.Arguments is { Length: > 0 } a ? " " + Safe(Shorten(a, 120)) : "";
        var detail = row.Detail is { Length: > 0 } d ? " — " + Safe(Shorten(d, 160)) : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"• #{row.Id} {Stamp(row.At)} · {Safe(row.Actor)} · **{Safe(row.Command)}**{arguments} · {row.Outcome.ToLowerInvariant()}{detail}\n");
    }
}
