using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Telegram.Tests.Fake;

/// <summary>A person or bot on the fake Telegram.</summary>
public sealed record FakeUser(long Id, string FirstName, string? Username, bool IsBot)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id, ["is_bot"] = IsBot, ["first_name"] = FirstName };
        if (Username is not null)
        {
            json["username"] = Username;
        }

        return json;
    }
}

public sealed record FakeChat(long Id, string Type, string? Title)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id, ["type"] = Type };
        if (Title is not null)
        {
            json["title"] = Title;
        }

        return json;
    }
}

public sealed class FakeMessage(long messageId, FakeChat chat, FakeUser from, string text, FakeMessage? replyTo)
{
    public long MessageId { get; } = messageId;

    public FakeChat Chat { get; } = chat;

    public FakeUser From { get; } = from;

    public string Text { get; set; } = text;

    public FakeMessage? ReplyTo { get; } = replyTo;

    /// <summary>Every text the message has had, the first one included.</summary>
    public List<string> Versions { get; } = [text];

    public JsonObject ToJson(bool withReply = true)
    {
        var json = new JsonObject
        {
            ["message_id"] = MessageId,
            ["from"] = From.ToJson(),
            ["chat"] = Chat.ToJson(),
            ["date"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["text"] = Text,
        };
        var entities = FakeTelegramServer.EntitiesOf(Text);
        if (entities.Count > 0)
        {
            json["entities"] = entities;
        }

        if (withReply && ReplyTo is not null)
        {
            // Telegram nests the replied-to message one level deep only.
            json["reply_to_message"] = ReplyTo.ToJson(withReply: false);
        }

        return json;
    }
}

/// <summary>One Bot API call as the fake saw it: the method, its parameters (JSON, whatever the encoding) and the answer's code.</summary>
public sealed record FakeCall(string Method, JsonObject Parameters, int Status, DateTimeOffset At);
