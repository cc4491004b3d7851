using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Discord.Tests.Fake;
// The fake Discord's slash commands and interactions.
public sealed partial class FakeDiscordServer
{
    /// <summary>Slash commands: registered, answered (the callback), and their answers edited or followed up.</summary>
    private void MapInteractions(RouteGroupBuilder api)
    {
        Route(api, "PUT", "/applications/{application_id}/guilds/{guild_id}/commands", (ctx, bot, body) =>
        {
            // Only the token's own application, in a guild it was invited to (else Discord's 403 Missing Access).
            if ((string)ctx.Request.RouteValues["application_id"]! != bot.ApplicationId || !bot.InGuild)
            {
                return Task.FromResult(Error(403, 50001, "Missing Access"));
            }

            if (GuildRefusal(ctx, bot) is { } refused)
            {
                return Task.FromResult(refused);
            }

            var commands = JsonNode.Parse(body!)!.AsArray();
            RegisteredCommands = [.. commands.Select(c => c!["name"]!.GetValue<string>())];
            var answer = commands.Select(c => new JsonObject { ["id"] = NextId(), ["name"] = c!["name"]!.GetValue<string>() }).ToList();
            return Task.FromResult(Results.Json(answer));
        });
        Route(api, "POST", "/interactions/{interaction_id}/{interaction_token}/callback", (ctx, bot, body) =>
        {
            var id = (string)ctx.Request.RouteValues["interaction_id"]!;
            if (!_answeredInteractions.TryAdd(id, true))
            {
                Interlocked.Increment(ref _interactionsAnsweredTwice);
                return Task.FromResult(Error(400, 40060, "Interaction has already been acknowledged."));
            }

            var answer = JsonNode.Parse(body!)!.AsObject();
            answer["interaction_id"] = id;
            _interactionAnswers.Enqueue(answer);
            // A public answer (not ephemeral, flag 64) is a message of the application in the invoking channel; a
            // deferred one (type 5) shows "thinking" there until @original is edited.
            var token = (string)ctx.Request.RouteValues["interaction_token"]!;
            var flags = answer["data"]?["flags"]?.GetValue<int>() ?? 0;
            if ((flags & 64) == 0 && _interactionChannels.TryGetValue(token, out var channelId)
                && answer["type"]?.GetValue<int>() is 4 or 5)
            {
                _interactionMessages[token] = StoreMessage(channelId, bot.UserId, answer["data"]?["content"]?.GetValue<string>() ?? "",
                    null, null);
            }

            return Task.FromResult(Results.NoContent());
        });
        Route(api, "PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", (ctx, bot, body) =>
        {
            var answer = JsonNode.Parse(body!)!.AsObject();
            answer["edited_original"] = (string)ctx.Request.RouteValues["webhook_token"]!;
            _interactionAnswers.Enqueue(answer);
            if (_interactionMessages.TryGetValue((string)ctx.Request.RouteValues["webhook_token"]!, out var original))
            {
                original.Content = answer["content"]?.GetValue<string>() ?? original.Content;
                original.Edits++;
                return Task.FromResult(Results.Json(MessageJson(original)));
            }

            return Task.FromResult(Results.Json(new JsonObject
            {
                ["id"] = NextId(), ["channel_id"] = "0", ["content"] = answer["content"]?.GetValue<string>() ?? "",
                ["author"] = new JsonObject { ["id"] = bot.UserId, ["username"] = bot.Username },
            }));
        });
        Route(api, "POST", "/webhooks/{webhook_id}/{webhook_token}", (ctx, bot, body) =>
        {
            var answer = JsonNode.Parse(body!)!.AsObject();
            answer["followup"] = (string)ctx.Request.RouteValues["webhook_token"]!;
            _interactionAnswers.Enqueue(answer);
            return Task.FromResult(Results.Json(new JsonObject
            {
                ["id"] = NextId(), ["channel_id"] = "0", ["content"] = answer["content"]?.GetValue<string>() ?? "",
                ["author"] = new JsonObject { ["id"] = bot.UserId, ["username"] = bot.Username },
            }));
        });
    }

    /// <summary>
    /// The answer the member finally sees of the slash command <paramref name="interaction"/>: an immediate reply, or
    /// @original edited after a deferral; <see cref="NUnit.Framework.Assert"/>s it came within 20 s.
    /// </summary>
    public async Task<(JsonObject First, string Content)> AnswerOfAsync(string interaction)
    {
        var answered = await FakeDiscordKit.EventuallyAsync(() => InteractionAnswers.Any(a =>
            a["interaction_id"]?.GetValue<string>() == interaction && a["type"]!.GetValue<int>() == 4
            || a["edited_original"]?.GetValue<string>() == $"itoken-{interaction}"), TimeSpan.FromSeconds(20));
        NUnit.Framework.Assert.That(answered, NUnit.Framework.Is.True, "the interaction was answered");
        var first = InteractionAnswers.Single(a => a["interaction_id"]?.GetValue<string>() == interaction);
        var content = first["type"]!.GetValue<int>() == 4
            ? first["data"]!["content"]!.GetValue<string>()
            : InteractionAnswers.Single(a => a["edited_original"]?.GetValue<string>() == $"itoken-{interaction}")["content"]!.GetValue<string>();
        return (first, content);
    }

    /// <summary>Callbacks refused because the interaction had been answered already (40060).</summary>
    public int InteractionsAnsweredTwice => Volatile.Read(ref _interactionsAnsweredTwice);

    private int _interactionsAnsweredTwice;

    /// <summary>A slash command by a member; returns the interaction id.</summary>
    public async Task<string> InvokeCommandAsync(FakeBot bot, string channelId, string userId, bool admin, string name, JsonArray? options = null)
    {
        var id = NextId();
        _interactionChannels[$"itoken-{id}"] = channelId;
        var data = new JsonObject
        {
            ["id"] = id,
            ["application_id"] = bot.ApplicationId,
            ["type"] = 2,
            ["token"] = $"itoken-{id}",
            ["guild_id"] = GuildId,
            ["channel_id"] = channelId,
            ["member"] = new JsonObject
            {
                ["user"] = new JsonObject { ["id"] = userId, ["username"] = "someone" },
                ["roles"] = new JsonArray(),
                ["permissions"] = admin ? "8" : "0",
            },
            ["data"] = new JsonObject { ["id"] = NextId(), ["name"] = name, ["type"] = 1, ["options"] = options ?? [] },
        };
        // Every gateway session of the bot gets it; Discord takes the first callback and refuses the others (40060).
        await DispatchAsync(bot, "INTERACTION_CREATE", data);

        return id;
    }
}
