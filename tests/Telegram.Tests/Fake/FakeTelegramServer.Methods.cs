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

/// <summary>The Bot API methods the fake serves, each as Telegram documents it: getUpdates, sendMessage, editMessageText, sendChatAction, setMyCommands, and the flood limits.</summary>
public sealed partial class FakeTelegramServer
{
    private async Task<(int, JsonObject)> GetUpdatesAsync(JsonObject parameters, CancellationToken aborted)
    {
        if (!Integer(parameters, "offset", out var offset, 0) || !Integer(parameters, "limit", out var limit, 100) ||
            !Integer(parameters, "timeout", out var timeout, 0))
        {
            return (400, Error(400, "Bad Request: wrong parameter in request"));
        }

        if (!ReadAllowedUpdates(parameters))
        {
            return (400, Error(400, "Bad Request: can't parse allowed updates"));
        }

        // "Values between 1-100 are accepted": Telegram clamps others rather than refusing them.
        limit = Math.Clamp(limit, 1, 100);
        Interlocked.Increment(ref _polls);
        using var poll = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        CancellationTokenSource? previous;
        lock (_lock)
        {
            previous = _activePoll;
            _activePoll = poll;
        }

        previous?.Cancel();
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(Math.Min(timeout, MaxPollWait.TotalSeconds));
        while (true)
        {
            Task arrived;
            lock (_lock)
            {
                // An update below the offset is confirmed: Telegram forgets it. A negative offset keeps the last -offset.
                if (offset < 0)
                {
                    _updates.RemoveRange(0, Math.Max(0, _updates.Count + (int)offset));
                }
                else if (offset > 0)
                {
                    _updates.RemoveAll(u => u.UpdateId < offset);
                }

                var batch = _updates.Take((int)limit).Select(u => u.Update.DeepClone()).ToArray();
                if (batch.Length > 0 || DateTimeOffset.UtcNow >= deadline)
                {
                    ClearPoll(poll);
                    return (200, Ok(new JsonArray(batch)));
                }

                arrived = _updateArrived.Task;
            }

            try
            {
                await arrived.WaitAsync(deadline - DateTimeOffset.UtcNow, poll.Token);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                // The client went away (a bot killed or stopped mid-poll): nothing reaches it, and no other poller
                // ended its poll. Recorded as nginx's "client closed request"; Telegram has no code for it.
                ClearPoll(poll);
                return (499, Error(499, "Client Closed Request"));
            }
            catch (OperationCanceledException)
            {
                ClearPoll(poll);
                Interlocked.Increment(ref _pollConflicts);
                return (409, Error(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"));
            }
        }
    }

    private void ClearPoll(CancellationTokenSource poll)
    {
        lock (_lock)
        {
            if (_activePoll == poll)
            {
                _activePoll = null;
            }
        }
    }

    private (int, JsonObject) SendMessage(JsonObject parameters)
    {
        lock (_lock)
        {
            if (FindChat(parameters, out var chat) is { } refused)
            {
                return refused;
            }

            var text = parameters["text"]?.ToString();
            if (string.IsNullOrWhiteSpace(text))
            {
                return (400, Error(400, "Bad Request: message text is empty"));
            }

            if (text.Length > MaxText)
            {
                return (400, Error(400, "Bad Request: message is too long"));
            }

            FakeMessage? replyTo = null;
            var reply = parameters["reply_parameters"] as JsonObject;
            var replyId = reply?["message_id"] ?? parameters["reply_to_message_id"];
            if (replyId is not null)
            {
                if (!long.TryParse(replyId.ToString(), CultureInfo.InvariantCulture, out var id))
                {
                    return (400, Error(400, "Bad Request: wrong parameter in request"));
                }

                replyTo = _messages.GetValueOrDefault(chat!.Id)?.FirstOrDefault(m => m.MessageId == id);
                var allowWithout = reply?["allow_sending_without_reply"]?.GetValue<bool>() == true ||
                                   parameters["allow_sending_without_reply"]?.ToString() is "true" or "True";
                if (replyTo is null && !allowWithout)
                {
                    return (400, Error(400, "Bad Request: message to be replied not found"));
                }
            }

            if (Flooded(chat!) is { } flood)
            {
                return flood;
            }

            var message = AddMessage(chat!, Bot, text, replyTo);
            return (200, Ok(message.ToJson()));
        }
    }

    private (int, JsonObject) EditMessageText(JsonObject parameters)
    {
        lock (_lock)
        {
            if (parameters["inline_message_id"] is null && parameters["message_id"] is null)
            {
                return (400, Error(400, "Bad Request: message identifier is not specified"));
            }

            if (FindChat(parameters, out var chat) is { } refused)
            {
                return refused;
            }

            if (!long.TryParse(parameters["message_id"]!.ToString(), CultureInfo.InvariantCulture, out var id))
            {
                return (400, Error(400, "Bad Request: wrong parameter in request"));
            }

            var text = parameters["text"]?.ToString();
            if (string.IsNullOrWhiteSpace(text))
            {
                return (400, Error(400, "Bad Request: text must be non-empty"));
            }

            if (text.Length > MaxText)
            {
                return (400, Error(400, "Bad Request: MESSAGE_TOO_LONG"));
            }

            var message = _messages.GetValueOrDefault(chat!.Id)?.FirstOrDefault(m => m.MessageId == id);
            if (message is null)
            {
                return (400, Error(400, "Bad Request: message to edit not found"));
            }

            if (message.From.Id != Bot.Id)
            {
                return (400, Error(400, "Bad Request: message can't be edited"));
            }

            if (message.Text == text)
            {
                return (400, Error(400,
                    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"));
            }

            if (Flooded(chat) is { } flood)
            {
                return flood;
            }

            message.Text = text;
            message.Versions.Add(text);
            return (200, Ok(message.ToJson()));
        }
    }

    private (int, JsonObject) SendChatAction(JsonObject parameters)
    {
        lock (_lock)
        {
            if (FindChat(parameters, out _) is { } refused)
            {
                return refused;
            }

            return ChatActions.Contains(parameters["action"]?.ToString())
                ? (200, Ok(JsonValue.Create(true)))
                : (400, Error(400, "Bad Request: wrong parameter action in request"));
        }
    }

    private static (int, JsonObject) SetMyCommands(JsonObject parameters)
    {
        if (parameters["commands"] is not JsonArray commands)
        {
            return (400, Error(400, "Bad Request: parameter \"commands\" is required"));
        }

        if (commands.Count > 100)
        {
            return (400, Error(400, "Bad Request: too many commands"));
        }

        foreach (var entry in commands)
        {
            var command = entry?["command"]?.ToString() ?? "";
            var description = entry?["description"]?.ToString() ?? "";
            if (!CommandNamePattern().IsMatch(command) || description.Length is < 1 or > 256)
            {
                return (400, Error(400, "Bad Request: BOT_COMMAND_INVALID"));
            }
        }

        return (200, Ok(JsonValue.Create(true)));
    }

    /// <summary>
    /// The chat named by chat_id (an integer, or its decimal text): 400 "chat not found" when there is none or the bot
    /// is not in it.
    /// </summary>
    private (int, JsonObject)? FindChat(JsonObject parameters, out FakeChat? chat)
    {
        chat = null;
        var raw = parameters["chat_id"]?.ToString();
        if (raw is null)
        {
            return (400, Error(400, "Bad Request: chat_id is empty"));
        }

        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) ||
            !_chats.TryGetValue(id, out chat) || !_members[id].Contains(Bot.Id))
        {
            return (400, Error(400, "Bad Request: chat not found"));
        }

        return null;
    }

    /// <summary>
    /// Telegram's documented pace for bots: no more than about one message per second in a chat (a burst of three is
    /// let through), and at most 20 per minute in a group.
    /// </summary>
    private (int, JsonObject)? Flooded(FakeChat chat)
    {
        if (_floods.TryDequeue(out var injected))
        {
            return Flood(injected);
        }

        if (!EnforceFloodLimits)
        {
            return null;
        }

        var now = DateTimeOffset.UtcNow;
        var burstWindow = TimeSpan.FromSeconds(2) * FloodTimeScale;
        var groupWindow = TimeSpan.FromMinutes(1) * FloodTimeScale;
        var sent = _sent.TryGetValue(chat.Id, out var list) ? list : _sent[chat.Id] = [];
        sent.RemoveAll(at => now - at > groupWindow);
        var lastThree = sent.Count >= 3 ? sent[^3] : (DateTimeOffset?)null;
        if (lastThree is { } third && now - third < burstWindow)
        {
            return Flood(Math.Max(1, (int)Math.Ceiling((third + burstWindow - now).TotalSeconds)));
        }

        if (chat.Type != "private" && sent.Count >= 20)
        {
            return Flood(Math.Max(1, (int)Math.Ceiling((sent[^20] + groupWindow - now).TotalSeconds)));
        }

        sent.Add(now);
        return null;
    }

    private static (int, JsonObject) Flood(int retryAfter)
    {
        var error = Error(429, $"Too Many Requests: retry after {retryAfter.ToString(CultureInfo.InvariantCulture)}");
        error["parameters"] = new JsonObject { ["retry_after"] = retryAfter };
        return (429, error);
    }
}
