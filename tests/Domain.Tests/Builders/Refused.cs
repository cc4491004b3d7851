using MeatLizard.Domain.Common;
using NUnit.Framework;
using NUnit.Framework.Constraints;

namespace MeatLizard.Domain.Tests.Builders;

/// <summary>Constraints for "the domain refused this, and said why".</summary>
public static class Refused
{
    public static IResolveConstraint As(DomainErrorKind kind) =>
        Throws.InstanceOf<DomainException>().With.Property(nameof(DomainException.Kind)).EqualTo(kind);

    public static IResolveConstraint As(DomainErrorKind kind, string field) =>
        Throws.InstanceOf<DomainException>()
            .With.Property(nameof(DomainException.Kind)).EqualTo(kind)
            .And.Property(nameof(DomainException.Field)).EqualTo(field);
}
