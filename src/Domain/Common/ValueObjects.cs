using System.Text.RegularExpressions;

namespace MeatLizard.Domain.Common;

/// <summary>3–32 characters of letters, digits, '_', '.' or '-'.</summary>
public sealed partial record Username
{
    public const int MinLength = 3;
    public const int MaxLength = 32;

    private Username(string value) => Value = value;

    public string Value { get; }

    public static Username From(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length is < MinLength or > MaxLength || !Allowed().IsMatch(value))
        {
            throw new DomainException(
                $"A username is {MinLength}–{MaxLength} characters of letters, digits, '_', '.' or '-'.",
                DomainErrorKind.Invalid,
                "username");
        }

        return new Username(value);
    }

    public static bool IsValid(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length is >= MinLength and <= MaxLength && Allowed().IsMatch(value);

    /// <summary>
    /// The name a chat network's member gets on first use: <c>discord:123</c>. The colon is refused in names people
    /// choose (<see cref="From"/>), so nobody can sign up as a member before the member arrives.
    /// </summary>
    public static Username ForChannelMember(string network, string memberId)
    {
        var value = $"{network}:{memberId}";
        return IsChannelMember(value)
            ? new Username(value)
            : throw new DomainException($"'{value}' is not a chat network member's name.", DomainErrorKind.Invalid,
                "username");
    }

    /// <summary>True for a chat network member's name (<see cref="ForChannelMember"/>).</summary>
    public static bool IsChannelMember(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= MaxLength && ChannelMember().IsMatch(value);

    /// <summary>Either kind of name, as the admins type it (<c>/ban user:discord:123</c>).</summary>
    public static bool IsValidOrChannelMember(string? value) => IsValid(value) || IsChannelMember(value);

    /// <summary>A name read back from storage: either kind.</summary>
    public static Username Stored(string value) => IsChannelMember(value) ? new Username(value) : From(value);

    public override string ToString() => Value;

    [GeneratedRegex(@"^[A-Za-z0-9_.-]+\z")]
    private static partial Regex Allowed();

    [GeneratedRegex(@"^[a-z]{2,16}:-?[0-9]{1,24}\z")]
    private static partial Regex ChannelMember();
}

/// <summary>What a user asks: not blank, at most <see cref="MaxLength"/> characters.</summary>
public sealed record PromptText
{
    public const int MaxLength = 16_000;

    private PromptText(string value) => Value = value;

    public string Value { get; }

    public static PromptText From(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new DomainException("A message needs some text.", DomainErrorKind.Invalid, "content");
        }

        if (value.Length > MaxLength)
        {
            throw new DomainException(
                $"A message holds at most {MaxLength} characters; this one has {value.Length}.",
                DomainErrorKind.TooLarge,
                "content");
        }

        StorableText.Check(value, "content");
        return new PromptText(value);
    }

    public override string ToString() => Value;
}

/// <summary>A model name as llama.cpp and the operator know it, e.g. "llama-3.1-8b-instruct:q4".</summary>
public sealed partial record ModelName
{
    public const int MaxLength = 100;

    private ModelName(string value) => Value = value;

    public string Value { get; }

    public static ModelName From(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > MaxLength || !Allowed().IsMatch(value))
        {
            throw new DomainException(Requirement, DomainErrorKind.Invalid, "model");
        }

        return new ModelName(value);
    }

    /// <summary>What a model name must be, as refusals say it.</summary>
    public static string Requirement => $"A model name is 1–{MaxLength} characters of letters, digits, '.', '_', '-', ':' or '/'.";

    public static ModelName? FromOptional(string? value) => string.IsNullOrWhiteSpace(value) ? null : From(value);

    public static bool IsValid(string? value) =>
        !string.IsNullOrWhiteSpace(value) && value.Length <= MaxLength && Allowed().IsMatch(value);

    public override string ToString() => Value;

    [GeneratedRegex(@"^[A-Za-z0-9._:/-]+\z")]
    private static partial Regex Allowed();
}

/// <summary>A chat title shown in lists: 1–200 characters, trimmed.</summary>
public sealed record ChatTitle
{
    public const int MaxLength = 200;
    public static readonly ChatTitle Default = new("New chat");

    private ChatTitle(string value) => Value = value;

    public string Value { get; }

    public static ChatTitle From(string? value)
    {
        var trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed) || trimmed.Length > MaxLength)
        {
            throw new DomainException($"A title is 1–{MaxLength} characters.", DomainErrorKind.Invalid, "title");
        }

        StorableText.Check(trimmed, "title");
        return new ChatTitle(trimmed);
    }

    /// <summary>How long a title made from a question is at most (<see cref="FromQuestion"/>).</summary>
    public const int QuestionTitleLength = 60;

    /// <summary>
    /// A chat's title made from its first question: one line of its words, shortened with "…"; the default title when
    /// it holds nothing printable. For chats started without a title (OpenAI clients, chat networks).
    /// </summary>
    public static ChatTitle FromQuestion(string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        var line = string.Join(' ', StorableText.Clean(question).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return line.Length == 0 ? Default
            : From(line.Length > QuestionTitleLength ? line[..(QuestionTitleLength - 1)].TrimEnd() + "…" : line);
    }

    /// <summary>
    /// A title as stored: one written before control characters were refused is cleaned instead of refused, so an old
    /// chat stays readable (the default title when nothing is left).
    /// </summary>
    public static ChatTitle Restore(string stored)
    {
        var cleaned = StorableText.Clean(stored).Trim();
        return cleaned.Length == 0 ? Default : From(cleaned.Length > MaxLength ? cleaned[..MaxLength] : cleaned);
    }

    public override string ToString() => Value;
}

/// <summary>The persona or instructions given to the model before the conversation.</summary>
public sealed record SystemPrompt
{
    public const int MaxLength = 8_000;

    private SystemPrompt(string value) => Value = value;

    public string Value { get; }

    public static SystemPrompt? FromOptional(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (value.Length > MaxLength)
        {
            throw new DomainException(
                $"A system prompt holds at most {MaxLength} characters.", DomainErrorKind.Invalid, "systemPrompt");
        }

        StorableText.Check(value, "systemPrompt");
        return new SystemPrompt(value);
    }

    public override string ToString() => Value;
}

/// <summary>Sampling settings with the ranges llama.cpp accepts; unset values fall back to the engine's defaults.</summary>
public sealed record SamplingParameters
{
    public const double MaxTemperature = 2.0;
    public const int MaxTokensLimit = 8_192;

    public static readonly SamplingParameters Default = new(null, null, null);

    private SamplingParameters(double? temperature, double? topP, int? maxTokens)
    {
        Temperature = temperature;
        TopP = topP;
        MaxTokens = maxTokens;
    }

    public double? Temperature { get; }

    public double? TopP { get; }

    public int? MaxTokens { get; }

    public static SamplingParameters Create(double? temperature = null, double? topP = null, int? maxTokens = null)
    {
        if (temperature is { } t && (double.IsNaN(t) || t < 0 || t > MaxTemperature))
        {
            throw new DomainException(
                $"Temperature is between 0 and {MaxTemperature}.", DomainErrorKind.Invalid, "temperature");
        }

        if (topP is { } p && (double.IsNaN(p) || p <= 0 || p > 1))
        {
            throw new DomainException("Top-p is greater than 0 and at most 1.", DomainErrorKind.Invalid, "topP");
        }

        if (maxTokens is { } m && (m < 1 || m > MaxTokensLimit))
        {
            throw new DomainException(
                $"Max tokens is between 1 and {MaxTokensLimit}.", DomainErrorKind.Invalid, "maxTokens");
        }

        return new SamplingParameters(temperature, topP, maxTokens);
    }

    /// <summary>Values set here win; unset ones come from <paramref name="defaults"/>.</summary>
    public SamplingParameters Over(SamplingParameters defaults) =>
        new(Temperature ?? defaults.Temperature, TopP ?? defaults.TopP, MaxTokens ?? defaults.MaxTokens);
}
