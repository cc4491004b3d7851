namespace MeatLizard.Application.Feedback;

/// <summary>A rating of an answer: <paramref name="Rating"/> up or down, an optional comment, the answer's model and host.</summary>
public sealed record FeedbackDto(
    Guid MessageId, string Rating, string? Comment, string? Model, string? Host, DateTimeOffset UpdatedAt);

/// <summary>
/// The feedback on one model's answers (<paramref name="Model"/> null: answers no model wrote, such as notices), on one
/// host when <paramref name="Host"/> is given: how many up and down, how many with a comment, the latest.
/// </summary>
public sealed record ModelFeedbackDto(
    string? Model, string? Host, int Up, int Down, int Comments, DateTimeOffset LastAt);

public static class Ratings
{
    public const string Up = "up";
    public const string Down = "down";

    /// <summary>A comment says why in a few sentences; longer text belongs in the chat.</summary>
    public const int MaxComment = 1000;
}
