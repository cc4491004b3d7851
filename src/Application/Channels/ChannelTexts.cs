using System.Globalization;

namespace MeatLizard.Application.Channels;

/// <summary>What the bot says on a chat network besides the model's answers: refusals, marks and command answers.</summary>
public static class ChannelTexts
{
    public const string Banned = "You are banned from MeatLizard, so I can't answer you.";

    public const string EmptyQuestion = "Ask me something: write your question after the mention.";

    /// <summary>Appended to the text while it is still being written.</summary>
    public const string Writing = " ▍";

    public const string FallbackMark = "⚠️ *Fallback answer: the model host is unavailable, this was not written by the model.*";

    public const string NoticeMark = "ℹ️ *Notice from MeatLizard:*";

    public static string RateLimited(string scope, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return scope == "guild"
            ? $"This server is asking too much right now (its rate limit is reached); try again in {seconds} s."
            : $"You are asking too fast (your rate limit is reached); try again in {seconds} s.";
    }

    /// <summary>A fallback or notice answer is visibly marked, so nobody takes it for the model's.</summary>
    public static string Marked(string source, string content) => source switch
    {
        "fallback" => FallbackMark + "\n\n" + content,
        "notice" => NoticeMark + " " + content,
        _ => content,
    };

    public static string Failed(string reason) => "⚠️ " + reason;
}
