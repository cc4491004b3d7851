namespace MeatLizard.Domain.Common;

/// <summary>A named invariant; aggregates check rules before they change state.</summary>
public interface IBusinessRule
{
    /// <summary>What kind of failure this is, so the edge can pick a status code.</summary>
    DomainErrorKind Kind { get; }

    string Message { get; }

    bool IsBroken();
}
