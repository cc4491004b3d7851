using System.Text.Json;
using System.Text.Json.Serialization;

namespace MeatLizard.Infrastructure.Discord.Rest;

/// <summary>How Discord's JSON is read and written: snake_case names, nulls left out, snowflakes as strings.</summary>
public static class DiscordJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>Permission bits we use; Discord sends and accepts bitsets as decimal strings.</summary>
public static class DiscordPermissions
{
    /// <summary>1 &lt;&lt; 4: create, move and delete channels.</summary>
    public const ulong ManageChannels = 16;

    /// <summary>1 &lt;&lt; 3: every permission, in every channel, whatever the overwrites say.</summary>
    public const ulong Administrator = 8;

    /// <summary>1 &lt;&lt; 28: change a channel's permission overwrites (Discord asks for it on PATCH /channels/{id}).</summary>
    public const ulong ManageRoles = 268435456;

    public const ulong ViewChannel = 1024;
    public const ulong SendMessages = 2048;
    public const ulong AttachFiles = 32768;
    public const ulong ReadMessageHistory = 65536;

    /// <summary>What a bot needs in a relay channel: 101376.</summary>
    public const ulong RelayBot = ViewChannel | SendMessages | AttachFiles | ReadMessageHistory;

    public static string Format(ulong bits) => bits.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

public sealed record DiscordUser(string Id, string Username, bool? Bot = null);

public sealed record DiscordGuild(string Id, string Name, string? OwnerId = null);

/// <summary>A guild member: the roles whose permissions, with @everyone's, make its guild permissions.</summary>
public sealed record DiscordGuildMember(IReadOnlyList<string> Roles, DiscordUser? User = null);

/// <summary>A guild role; its <c>permissions</c> bitset comes as a decimal string. The @everyone role's id is the guild's.</summary>
public sealed record DiscordRole(string Id, string Name, string Permissions);

/// <summary>The bot's own application (<c>GET /applications/@me</c>): its id and its flags (which privileged intents are on).</summary>
public sealed record DiscordApplication(string Id, string Name, long Flags, DiscordUser? Bot = null);

/// <summary>Application flags that say whether a privileged gateway intent is enabled in the Developer Portal.</summary>
public static class DiscordApplicationFlags
{
    /// <summary>1 &lt;&lt; 14: GUILD_MEMBERS enabled (a verified bot in 100+ guilds).</summary>
    public const long GatewayGuildMembers = 1 << 14;

    /// <summary>1 &lt;&lt; 15: GUILD_MEMBERS enabled (an unverified bot, the Developer Portal's switch).</summary>
    public const long GatewayGuildMembersLimited = 1 << 15;

    /// <summary>1 &lt;&lt; 18: MESSAGE_CONTENT enabled (a verified bot).</summary>
    public const long GatewayMessageContent = 1 << 18;

    /// <summary>1 &lt;&lt; 19: MESSAGE_CONTENT enabled (an unverified bot, the Developer Portal's switch).</summary>
    public const long GatewayMessageContentLimited = 1 << 19;
}

public sealed record DiscordAttachment(string Id, string Filename, long Size, string Url);

public sealed record DiscordMessage(
    string Id,
    string ChannelId,
    DiscordUser Author,
    string Content,
    IReadOnlyList<DiscordAttachment>? Attachments = null,
    string? GuildId = null,
    string? WebhookId = null,
    JsonElement? Nonce = null,
    IReadOnlyList<DiscordReaction>? Reactions = null);

/// <summary>
/// A page of a channel's messages as <c>GET /channels/{id}/messages</c> gives it: those read, and the ids of any that
/// could not be (skipped). <see cref="Count"/> is the page's size, <see cref="NewestId"/> the newest id on it.
/// </summary>
public sealed record DiscordMessagePage(IReadOnlyList<DiscordMessage> Messages, IReadOnlyList<ulong> Unreadable)
{
    public int Count => Messages.Count + Unreadable.Count;

    public ulong? NewestId =>
        Messages.Select(m => (ulong?)ulong.Parse(m.Id, System.Globalization.CultureInfo.InvariantCulture))
            .Concat(Unreadable.Select(id => (ulong?)id)).Max();
}

/// <summary>One emoji's reactions on a message, as the message object lists them: how many members gave it.</summary>
public sealed record DiscordReaction(int Count, DiscordEmoji Emoji);

/// <summary>An emoji: a Unicode one has no id, only its characters as the name.</summary>
public sealed record DiscordEmoji(string? Id, string? Name);

/// <summary>Type 0 = role (the guild id is the @everyone role), 1 = member.</summary>
public sealed record PermissionOverwrite(string Id, int Type, string? Allow = null, string? Deny = null)
{
    public static PermissionOverwrite DenyEveryone(string guildId) =>
        new(guildId, 0, DiscordPermissions.Format(0), DiscordPermissions.Format(DiscordPermissions.ViewChannel));

    public static PermissionOverwrite AllowMember(string userId, ulong bits) =>
        new(userId, 1, DiscordPermissions.Format(bits), DiscordPermissions.Format(0));

    /// <summary>A member who may read but no longer write (an archived chat's channel).</summary>
    public static PermissionOverwrite ReadOnlyMember(string userId) =>
        new(userId, 1, DiscordPermissions.Format(DiscordPermissions.ViewChannel | DiscordPermissions.ReadMessageHistory),
            DiscordPermissions.Format(DiscordPermissions.SendMessages | DiscordPermissions.AttachFiles));

    /// <summary>Whether this overwrite takes SEND_MESSAGES away.</summary>
    [JsonIgnore]
    public bool DeniesSending =>
        ulong.TryParse(Deny, System.Globalization.CultureInfo.InvariantCulture, out var bits) && (bits & DiscordPermissions.SendMessages) != 0;
}

public sealed record DiscordChannel(
    string Id,
    int Type,
    string? Name = null,
    string? GuildId = null,
    string? ParentId = null,
    string? Topic = null,
    IReadOnlyList<PermissionOverwrite>? PermissionOverwrites = null);

public static class DiscordChannelTypes
{
    public const int GuildText = 0;
    public const int GuildCategory = 4;
}

public sealed record CreateChannelRequest(
    string Name,
    int Type,
    string? ParentId,
    string? Topic,
    IReadOnlyList<PermissionOverwrite> PermissionOverwrites);

/// <summary>The body of PATCH /channels/{id} for what we change: null fields are left as they are.</summary>
public sealed record ModifyChannelRequest(
    string? ParentId = null,
    string? Topic = null,
    IReadOnlyList<PermissionOverwrite>? PermissionOverwrites = null);

/// <summary>The body of PUT /channels/{id}/permissions/{overwrite id}: 0 = role, 1 = member; bitsets as decimal strings.</summary>
public sealed record SetPermissionOverwriteRequest(int Type, string Allow, string Deny);

public sealed record SessionStartLimit(int Total, int Remaining, long ResetAfter, int MaxConcurrency);

public sealed record GatewayBotInfo(string Url, int Shards, SessionStartLimit SessionStartLimit);

/// <summary>A file sent with a message (multipart part <c>files[0]</c>).</summary>
public sealed record DiscordFile(string Filename, ReadOnlyMemory<byte> Content);

public sealed record MessageAttachmentRef(string Id, string Filename);

/// <summary>The body of POST /channels/{id}/messages (as JSON, or as <c>payload_json</c> beside a file).</summary>
public sealed record CreateMessageBody(
    string? Content,
    string? Nonce,
    bool? EnforceNonce,
    IReadOnlyList<MessageAttachmentRef>? Attachments = null,
    MessageReference? MessageReference = null,
    AllowedMentions? AllowedMentions = null);

/// <summary>What a reply answers (type 0, the default: a reply); a reply to a deleted message is posted plainly.</summary>
public sealed record MessageReference(string MessageId, bool FailIfNotExists = false);

/// <summary>Whom a message may ping: nobody (<c>parse: []</c>), so a model's "@everyone" pings no one.</summary>
public sealed record AllowedMentions(IReadOnlyList<string> Parse, bool? RepliedUser = null)
{
    public static AllowedMentions Nobody { get; } = new([], RepliedUser: false);
}

public sealed record EditMessageBody(string? Content, AllowedMentions? AllowedMentions = null);

public sealed record ApplicationCommandOptionChoice(string Name, JsonElement Value);

public sealed record ApplicationCommandOption(
    int Type,
    string Name,
    string Description,
    bool? Required = null,
    IReadOnlyList<ApplicationCommandOption>? Options = null,
    IReadOnlyList<ApplicationCommandOptionChoice>? Choices = null);

/// <summary>A chat-input (slash) command; <c>default_member_permissions</c> "0" = admins only unless overridden.</summary>
public sealed record ApplicationCommand(
    string Name,
    string Description,
    IReadOnlyList<ApplicationCommandOption>? Options = null,
    string? DefaultMemberPermissions = "0",
    int Type = 1);

public sealed record RegisteredCommand(string Id, string Name);

public sealed record InteractionMessageData(string? Content, int? Flags = null, AllowedMentions? AllowedMentions = null);

/// <summary>Type 4 = answer now, 5 = deferred (edit @original later). Flags 64 = only the invoker sees it.</summary>
public sealed record InteractionResponse(int Type, InteractionMessageData? Data = null)
{
    public const int Ephemeral = 64;

    /// <summary>An answer that pings nobody: it may show what members wrote (a chat's title in /search).</summary>
    public static InteractionResponse Reply(string content, bool ephemeral = true) =>
        new(4, new InteractionMessageData(content, ephemeral ? Ephemeral : null, AllowedMentions.Nobody));

    public static InteractionResponse Defer(bool ephemeral = true) =>
        new(5, ephemeral ? new InteractionMessageData(null, Ephemeral) : null);
}

public sealed record WebhookMessageBody(string? Content, int? Flags = null);
