using System.Globalization;
using System.Text;
using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Application.Backups;
using MeatLizard.Application.Channels.Commands;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Application.Transcripts;
using MeatLizard.Application.Transcripts.Commands;
using MeatLizard.Infrastructure.Discord.Chat;
using MeatLizard.Infrastructure.Discord.Rest;

namespace MeatLizard.Presentation.DiscordServer.Commands;

/// <summary>A slash command as invoked: its name, its subcommand if any, and its options by name.</summary>
public sealed record SlashInvocation(string Name, string? Subcommand, IReadOnlyDictionary<string, JsonElement> Options)
{
    /// <summary>The command as people type it, e.g. <c>/session close</c>.</summary>
    public string Display => Subcommand is null ? $"/{Name}" : $"/{Name} {Subcommand}";

    public static SlashInvocation Parse(JsonElement data)
    {
        var name = data.GetProperty("name").GetString() ?? "";
        string? subcommand = null;
        var options = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (data.TryGetProperty("options", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var option in list.EnumerateArray())
            {
                if (option.GetProperty("type").GetInt32() == AdminSlashCommands.SubCommand)
                {
                    subcommand = option.GetProperty("name").GetString();
                    if (option.TryGetProperty("options", out var nested) && nested.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var inner in nested.EnumerateArray())
                        {
                            options[inner.GetProperty("name").GetString()!] = inner.GetProperty("value");
                        }
                    }
                }
                else if (option.TryGetProperty("value", out var value))
                {
                    options[option.GetProperty("name").GetString()!] = value;
                }
            }
        }

        return new SlashInvocation(name, subcommand, options);
    }

    public string? Text(string option) => Options.TryGetValue(option, out var value)
        ? value.ValueKind == JsonValueKind.String ? value.GetString()?.Trim() : value.GetRawText()
        : null;

    /// <summary>An integer option; Discord checks the type, so anything else here is a client bug and reads as -1.</summary>
    public int Integer(string option) => Options.TryGetValue(option, out var value) && value.ValueKind == JsonValueKind.Number
                                                                                 && value.TryGetInt32(out var number)
        ? number
        : -1;

    /// <summary>An integer option the member may leave out: null then.</summary>
    public int? OptionalInteger(string option) => Options.ContainsKey(option) ? Integer(option) : null;

    /// <summary>A GUID option; anything that is not one reads as <see cref="Guid.Empty"/>, which the validators refuse.</summary>
    public Guid Id(string option) => Guid.TryParse(Text(option), out var id) ? id : Guid.Empty;
}

/// <summary>
/// The server bot's admin slash commands: what is registered with Discord, which MediatR command each one sends, and
/// how each answer reads. Every command goes through the Application's admin pipeline, which refuses non-admins and
/// writes the audit row.
/// </summary>
public static partial class AdminSlashCommands
{
    public const int SubCommand = 1;
    public const int StringOption = 3;
    public const int IntegerOption = 4;
    public const int BooleanOption = 5;
    public const int ChannelOption = 7;

    /// <summary>Commands that may take longer than Discord's 3 s: deferred, then answered by editing @original.</summary>
    private static readonly HashSet<string> s_slow = new(StringComparer.Ordinal) { "status", "workers", "sessions", "transcript", "backup", "metrics", "delete-user" };

    /// <summary>What is registered with Discord; <c>default_member_permissions</c> "0" on each (admins only).</summary>
    public static IReadOnlyList<ApplicationCommand> Definitions { get; } =
    [
        .. PlatformDefinitions,
        .. ConsoleDefinitions,
    ];

    // Built once, by Definitions' initializer (a property, not a field: the partial files' initializers run in no set order).
    private static IReadOnlyList<ApplicationCommand> PlatformDefinitions =>
    [
        new("status", "Is the model host online, queue (admins: workers, latencies, fallback mode, default model)",
            DefaultMemberPermissions: null),
        new("workers", "The model hosts online: models, slots in use, tokens/s, last heartbeat"),
        new("sessions", "The newest chats, everyone's or one user's",
            [new(StringOption, "user", "A MeatLizard username", Required: false)]),
        new("session", "Manage one chat",
            [new(SubCommand, "close", "Close a chat (a running answer is cancelled)",
                Options: [new(StringOption, "id", "The chat's id, as /sessions lists it", Required: true)])]),
        new("ratelimit", "Set a rate limit (requests per minute; 0 = unlimited)",
        [
            new(StringOption, "scope", "Which limit", Required: true, Choices: [Choice("user"), Choice("ip"), Choice("guild")]),
            new(IntegerOption, "per-minute", "Requests per minute, 0 for unlimited", Required: true),
        ]),
        new("ban", "Ban a user: they can do nothing on MeatLizard", [new(StringOption, "user", "A MeatLizard username", Required: true)]),
        new("unban", "Lift a user's ban", [new(StringOption, "user", "A MeatLizard username", Required: true)]),
        new("approve", "Let an account waiting for approval sign in",
            [new(StringOption, "user", "A MeatLizard username", Required: true)]),
        new("reject", "Refuse an account waiting for approval (it is deleted)",
            [new(StringOption, "user", "A MeatLizard username", Required: true)]),
        new("promote", "Make a web account an admin", [new(StringOption, "user", "A MeatLizard username", Required: true)]),
        new("demote", "Make an admin a plain user again (never the last admin)",
            [new(StringOption, "user", "A MeatLizard username", Required: true)]),
        new("password-reset", "A one-time link that sets a new password for a web account (only you see it)",
        [
            new(StringOption, "user", "A MeatLizard username", Required: true),
            new(IntegerOption, "hours", "How long the link works, in hours (default 24)", Required: false),
        ]),
        new("drain", "Drain a model host: it finishes what it writes and is sent nothing new",
            [new(StringOption, "host", "The host's id, as /workers shows it", Required: true)]),
        new("undrain", "Let a drained model host take new questions again",
            [new(StringOption, "host", "The host's id, as /workers shows it", Required: true)]),
        new("model", "Your model for new chats (admins: the model for chats that choose none)",
            [new(StringOption, "name", "The model's name", Required: false)], DefaultMemberPermissions: null),
        new("fallback", "How to answer when no model worker can",
            [new(StringOption, "mode", "inform: a notice; markov: a Markov-chain reply", Required: true,
                Choices: [Choice("inform"), Choice("markov")])]),
        new("transcript", "Store a chat's transcript and get download links",
            [new(StringOption, "session", "The chat's id, as /sessions lists it", Required: true)]),
        new("backup", "Back the database up now"),
        new("chat-channels", "The channels where members chat with the model",
        [
            new(SubCommand, "add", "Let members chat in a channel", Options: [new(ChannelOption, "channel", "The channel", Required: true)]),
            new(SubCommand, "remove", "Stop chatting in a channel (configured ones stay)",
                Options: [new(ChannelOption, "channel", "The channel", Required: true)]),
            new(SubCommand, "list", "The channels admins added"),
        ]),
        new("chat-model", "The model of new chats in this channel when the member prefers none",
            [new(StringOption, "name", "The model's name (empty: the default)", Required: false)]),
        new("metrics", "Requests, latency, tokens/s, fallback rate and errors",
            [new(StringOption, "period", "How far back, e.g. 30m, 6h or 7d (default 1h)", Required: false)]),
    ];

    public static bool IsKnown(SlashInvocation invocation) =>
        Definitions.Any(d => d.Name == invocation.Name) && invocation.Name switch
        {
            "session" => invocation.Subcommand == "close",
            "chat-channels" => invocation.Subcommand is "add" or "remove" or "list",
            "invite" => invocation.Subcommand is "create" or "list" or "revoke",
            _ => true,
        };

    public static bool IsSlow(SlashInvocation invocation) => s_slow.Contains(invocation.Name);

    /// <summary>Sends the invocation's command and writes its answer.</summary>
    public static async Task<string> RunAsync(
        IMediator mediator, SlashInvocation invocation, AdminActor actor, string? publicBaseUrl, CancellationToken cancellationToken,
        string? channelId = null)
    {
        ArgumentNullException.ThrowIfNull(mediator);
        ArgumentNullException.ThrowIfNull(invocation);
        return invocation.Name switch
        {
            "status" => Describe(await mediator.Send(new GetAdminStatus(actor), cancellationToken)),
            "workers" => DescribeWorkers(await mediator.Send(new GetAdminStatus(actor, "workers"), cancellationToken),
                DateTimeOffset.UtcNow),
            "sessions" => Describe(await mediator.Send(new ListEveryonesChats(actor, invocation.Text("user")), cancellationToken),
                invocation.Text("user")),
            "session" => Describe(await mediator.Send(new CloseChat(invocation.Id("id")) { Admin = actor }, cancellationToken)),
            "ratelimit" => Describe(await mediator.Send(
                new SetRateLimit(actor, invocation.Text("scope") ?? "", invocation.Integer("per-minute")), cancellationToken)),
            "ban" => Describe(await mediator.Send(new BanUser(actor, invocation.Text("user") ?? ""), cancellationToken)),
            "unban" => Describe(await mediator.Send(new UnbanUser(actor, invocation.Text("user") ?? ""), cancellationToken)),
            // The web console's account commands, audited alike.
            "approve" => Describe(await mediator.Send(new ApproveUser(actor, invocation.Text("user") ?? ""), cancellationToken), "approved"),
            "reject" => Describe(await mediator.Send(new RejectUser(actor, invocation.Text("user") ?? ""), cancellationToken), "rejected"),
            "promote" => Describe(await mediator.Send(new PromoteUser(actor, invocation.Text("user") ?? ""), cancellationToken), "an admin"),
            "demote" => Describe(await mediator.Send(new DemoteUser(actor, invocation.Text("user") ?? ""), cancellationToken), "a plain user"),
            // The same commands as the web console's: the answer (the link) goes to the admin alone, ephemerally.
            "password-reset" => Describe(await mediator.Send(new CreatePasswordReset(actor, invocation.Text("user") ?? "",
                invocation.OptionalInteger("hours")), cancellationToken), publicBaseUrl),
            "drain" or "undrain" => DescribeDrain(invocation.Id("host"),
                await mediator.Send(new DrainHost(actor, invocation.Id("host"), invocation.Name == "drain"), cancellationToken)),
            "model" => $"Chats that choose no model now use **{Safe(await mediator.Send(new SetDefaultModel(actor, invocation.Text("name") ?? ""), cancellationToken))}**.",
            "fallback" => Describe(await mediator.Send(new SetFallbackMode(actor, invocation.Text("mode") ?? ""), cancellationToken)),
            "transcript" => Describe(await mediator.Send(new StoreTranscript(invocation.Id("session")) { Admin = actor }, cancellationToken),
                publicBaseUrl),
            "backup" => Describe(await mediator.Send(new RunBackup(actor), cancellationToken)),
            "chat-channels" => DescribeChatChannels(await mediator.Send(new ManageChatChannels(actor, DiscordChatAdapter.NetworkName,
                invocation.Subcommand ?? "", invocation.Text("channel")), cancellationToken)),
            "chat-model" => await mediator.Send(new SetChannelModel(actor, DiscordChatAdapter.NetworkName, channelId ?? "",
                    invocation.Text("name")), cancellationToken) is { } model
                ? $"New chats in this channel use **{Safe(model)}** unless the member prefers another."
                : "New chats in this channel use the default model unless the member prefers another.",
            "delete-user" or "invite" or "registration" or "audit" =>
                await RunConsoleCommandAsync(mediator, invocation, actor, publicBaseUrl, cancellationToken),
            "metrics" => DescribeMetrics(await mediator.Send(new GetAdminMetrics(actor, invocation.Text("period")), cancellationToken),
                invocation.Text("period") ?? "1h"),
            _ => throw new ArgumentException($"Unknown command {invocation.Display}.", nameof(invocation)),
        };
    }

    public static string Describe(AdminStatusDto status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var platform = status.Platform;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"**{platform.Summary}**");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Queue: {platform.QueueDepth} waiting · fallback: {platform.FallbackMode} · default model: {Safe(status.DefaultModel)} · engine: {platform.Engine} · transport: {platform.Transport}");
        text.AppendLine("Last hour: " + Figures(status.LastHour));
        if (platform.ServerBots is { } bots)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"Server bots: {bots.Count} ({string.Join(", ", bots.Select(Safe))})");
        }

        foreach (var model in (platform.Models ?? []).Take(10))
        {
            var slots = model.Slots is { } all ? $"{model.FreeSlots}/{all} slots free" : "slots unknown";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"• model {Safe(model.Name)}{(model.IsDefault ? " (default)" : "")}: {model.Hosts} host(s), {slots}, {model.Waiting} waiting");
        }

        foreach (var worker in platform.Workers.Take(10))
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"• worker {worker.Id.ToString()[..8]}: {worker.Engine}, {(worker.Ready ? "ready" : "not ready")}, {worker.JobsRunning} running{(worker.Draining ? ", draining" : "")}");
        }

        return Fit(text.ToString());
    }

    /// <summary>One line per model host: name and id, engine and state, models, slots in use, speed, last heartbeat.</summary>
    public static string DescribeWorkers(AdminStatusDto status, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(status);
        var workers = status.Platform.Workers;
        if (workers.Count == 0)
        {
            return "No model host is online.";
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"**{workers.Count} model host(s) online**");
        foreach (var w in workers.OrderBy(w => w.Name, StringComparer.Ordinal).Take(20))
        {
            var state = w.DrainedByAdmin ? "drained by an admin" : w.Draining ? "draining" : w.Ready ? "ready" : w.Loading ? "loading its model" : "not ready";
            var slots = w.Slots is { } s ? $"{w.JobsRunning}/{s} slots busy" : $"{w.JobsRunning} running";
            var speed = w.TokensPerSecond is { } tps ? string.Create(CultureInfo.InvariantCulture, $"{tps:0.#} tokens/s") : "no answer yet";
            var models = w.Models is { Count: > 0 } m ? string.Join(", ", m.Select(Safe)) : "its default model";
            var seen = Math.Max(0, (int)(now - w.LastSeen).TotalSeconds);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"• **{Safe(w.Name ?? "unnamed")}** (`{w.Id:D}`): {w.Engine}, {state} · {models} · {slots} · {speed} · seen {seen} s ago");
            foreach (var model in w.ModelDetails ?? [])
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  ◦ {DescribeModel(model)}");
            }
        }

        return Fit(text.ToString());
    }

    /// <summary>One model of a host that runs its models apart: its own slots, context size and speed.</summary>
    private static string DescribeModel(ModelCapacity model)
    {
        var slots = model.Slots is { } s ? $"{model.Jobs}/{s} slots busy" : $"{model.Jobs} running";
        var context = model.ContextSize is { } c ? string.Create(CultureInfo.InvariantCulture, $" · context {c}") : "";
        var speed = model.TokensPerSecond is { } tps
            ? string.Create(CultureInfo.InvariantCulture, $"{tps:0.#} tokens/s")
            : "no answer yet";
        return $"{Safe(model.Name)}: {slots}{context} · {speed}";
    }

    public static string Describe(IReadOnlyList<AdminSessionDto> chats, string? user)
    {
        ArgumentNullException.ThrowIfNull(chats);
        if (chats.Count == 0)
        {
            return user is null ? "There are no chats yet." : $"{Safe(user)} has no chats.";
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"**{chats.Count} newest chat(s){(user is null ? "" : " of " + Safe(user))}**");
        foreach (var s in chats)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"• `{s.Id:D}` {Safe(Shorten(s.Title, 60))} — {Safe(s.OwnerName)} · {s.Status} · {s.Messages} message(s) · updated {Stamp(s.UpdatedAt)}");
        }

        return Fit(text.ToString());
    }

    /// <summary>The channels admins added, as mentions (Discord shows them as names).</summary>
    public static string DescribeChatChannels(IReadOnlyList<string> channels)
    {
        ArgumentNullException.ThrowIfNull(channels);
        return channels.Count == 0
            ? "No channel added by admins (configured ones: Discord:ChatChannelIds)."
            : "Members chat in: " + string.Join(", ", channels.Select(c => $"<#{c}>")) + " (and any in Discord:ChatChannelIds).";
    }

    public static string Describe(ChatClosedDto closed)
    {
        ArgumentNullException.ThrowIfNull(closed);
        return !closed.WasOpen
            ? $"Chat `{closed.ChatId:D}` was already closed."
            : $"Closed chat `{closed.ChatId:D}` ({Safe(Shorten(closed.Title, 60))}){(closed.GenerationCancelled ? "; its running answer was cancelled" : "")}.";
    }

    public static string Describe(RateLimitSetDto limit)
    {
        ArgumentNullException.ThrowIfNull(limit);
        return limit.PerMinute <= 0
            ? $"The {limit.Scope} rate limit is now off (unlimited)."
            : $"The {limit.Scope} rate limit is now {limit.PerMinute} per minute (burst {limit.Burst}).";
    }

    public static string Describe(UserStatusChangedDto user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var state = user.Banned ? "banned" : "not banned";
        return user.Changed ? $"{Safe(user.Username)} is now {state}." : $"{Safe(user.Username)} was already {state}.";
    }

    /// <summary>An account command's answer: <paramref name="now"/> says what the account became.</summary>
    public static string Describe(AdminUserChangedDto user, string now)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.Changed ? $"{Safe(user.Username)} is now {now}." : $"{Safe(user.Username)} was already {now}.";
    }

    /// <summary>The link a password reset code makes, on the public address when one is configured.</summary>
    public static string Describe(CreatedPasswordResetDto reset, string? publicBaseUrl)
    {
        ArgumentNullException.ThrowIfNull(reset);
        var link = Absolute("/?reset=" + Uri.EscapeDataString(reset.Code), publicBaseUrl);
        return $"One-time password reset link for **{Safe(reset.Username)}**, until {Stamp(reset.ExpiresAt)}: {link}\n" +
               "Only you see this: hand it to them privately. It works once and replaces any earlier link for the account." +
               (IsWebLink(link) ? "" : "\n(A path on the web app's address: set Discord:PublicBaseUrl for a full link.)");
    }

    public static string DescribeDrain(Guid host, bool drained) => drained
        ? $"Model host `{host:D}` is drained: it finishes what it writes and is sent nothing new (from its next heartbeat) until /undrain."
        : $"Model host `{host:D}` takes new questions again (from its next heartbeat).";

    public static string Describe(FallbackMode mode) => mode == FallbackMode.Markov
        ? "When no model worker can answer, a Markov-chain reply (marked as fallback) answers."
        : "When no model worker can answer, the user is told so (inform).";

    public static string Describe(StoredTranscriptDto transcript, string? publicBaseUrl)
    {
        ArgumentNullException.ThrowIfNull(transcript);
        var json = Absolute(transcript.JsonUrl, publicBaseUrl);
        var csv = Absolute(transcript.CsvUrl, publicBaseUrl);
        var relative = !IsWebLink(json);
        return Fit($"Transcript of chat `{transcript.SessionId:D}` stored.\nJSON: {json}\nCSV: {csv}\n" +
                   $"Links work until {Stamp(transcript.ExpiresAt)}." +
                   (relative ? "\n(Paths on the API's address: set Discord:PublicBaseUrl for full links.)" : ""));
    }

    public static string Describe(BackupDto backup)
    {
        ArgumentNullException.ThrowIfNull(backup);
        return $"Backup stored: `{backup.Key}` ({Size(backup.SizeBytes)}, SHA-256 {backup.Sha256[..Math.Min(12, backup.Sha256.Length)]}…) at {Stamp(backup.CreatedAt)}.";
    }

    /// <summary>The figures of a period, for <c>/metrics</c> and the periodic post to the metrics channel.</summary>
    public static string DescribeMetrics(MetricsSummary summary, string period)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return $"**MeatLizard — last {period}** ({Stamp(summary.From)} – {Stamp(summary.To)})\n{Figures(summary)}";
    }

    private static string Figures(MetricsSummary s) => string.Create(CultureInfo.InvariantCulture,
        $"requests: {s.Requests} · p50 latency: {Millis(s.P50LatencyMs)} · p95 latency: {Millis(s.P95LatencyMs)} · " +
        $"tokens/s: {(s.TokensPerSecond is { } t ? t.ToString("0.0", CultureInfo.InvariantCulture) : "–")} · " +
        $"fallback rate: {(s.FallbackRate is { } r ? r.ToString("0.#%", CultureInfo.InvariantCulture) : "–")} · errors: {s.Errors}");

    private static string Millis(int? ms) => ms is { } v ? v.ToString("#,0", CultureInfo.InvariantCulture) + " ms" : "–";

    private static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
    };

    private static string Stamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    private static string Absolute(string url, string? baseUrl) =>
        IsWebLink(url) || string.IsNullOrWhiteSpace(baseUrl) ? url : baseUrl.TrimEnd('/') + "/" + url.TrimStart('/');

    // Not Uri.TryCreate alone: on Unix "/api/…" parses as an absolute file: URI.
    private static bool IsWebLink(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    /// <summary>
    /// Text people chose (titles, names) cannot ping anyone or break the formatting: mentions are defused, markdown
    /// and backticks are escaped.
    /// </summary>
    public static string Safe(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var safe = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (c is '\\' or '*' or '_' or '~' or '`' or '|' or '>' or '#' or '[' or ']')
            {
                safe.Append('\\');
            }

            safe.Append(c is '\n' or '\r' ? ' ' : c);
            if (c == '@')
            {
                safe.Append('\u200b');
            }
        }

        return safe.ToString();
    }

    public static string Fit(string text) =>
        text.Length <= DiscordRestClient.MaxContentLength ? text : text[..(DiscordRestClient.MaxContentLength - 1)] + "…";

    private static ApplicationCommandOptionChoice Choice(string value) =>
        new(value, JsonSerializer.SerializeToElement(value));
}
