namespace MeatLizard.Domain.Common;

/// <summary>Base of every aggregate: its identity, and its rules checked by name.</summary>
public abstract class Entity<TId>
    where TId : struct
{
    protected Entity(TId id) => Id = id;

    public TId Id { get; }

    protected static void CheckRule(IBusinessRule rule)
    {
        if (rule.IsBroken())
        {
            throw new BusinessRuleViolationException(rule);
        }
    }
}
