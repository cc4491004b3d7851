namespace MeatLizard.Domain.Common;

/// <summary>How a broken invariant should be reported to the caller.</summary>
public enum DomainErrorKind
{
    /// <summary>The value itself is not acceptable (400).</summary>
    Invalid,

    /// <summary>The value is too large (413).</summary>
    TooLarge,

    /// <summary>The object is in a state that does not allow this (409).</summary>
    Conflict,

    /// <summary>The actor may not do this (403).</summary>
    Forbidden,

    /// <summary>The actor may not even know this exists (404).</summary>
    NotFound,
}

/// <summary>An invariant was broken; the message is written for a person to read.</summary>
public class DomainException(string message, DomainErrorKind kind = DomainErrorKind.Conflict, string? field = null)
    : Exception(message)
{
    public DomainErrorKind Kind { get; } = kind;

    /// <summary>The input field the failure is about, when there is one.</summary>
    public string? Field { get; } = field;
}

public sealed class BusinessRuleViolationException(IBusinessRule rule)
    : DomainException(rule.Message, rule.Kind)
{
    public IBusinessRule Rule { get; } = rule;
}
