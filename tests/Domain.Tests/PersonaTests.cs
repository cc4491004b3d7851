using MeatLizard.Domain.Common;
using MeatLizard.Domain.Personas;
using MeatLizard.Domain.Tests.Builders;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

public class PersonaTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UnixEpoch.AddDays(20_000);

    private static Persona Personal(Users.User owner) => Persona.Create(owner, shared: false, PersonaName.From("Pirate"),
        SystemPrompt.FromOptional("Talk like a pirate."), ModelName.From("pirate-7b"), 1.2, Now);

    [Test]
    public void APersonalPersona_IsItsOwnersAlone_AndAnotherUsersIsNotFound()
    {
        var owner = new UserBuilder().Build();
        var other = new UserBuilder().Named("bob").Build();
        var persona = Personal(owner);

        Assert.Multiple(() =>
        {
            Assert.That(persona.OwnerId, Is.EqualTo(owner.Id));
            Assert.That(persona.IsVisibleTo(owner), Is.True);
            Assert.That(persona.IsVisibleTo(other), Is.False);
            Assert.That(() => persona.EnsureChangeableBy(other), Refused.As(DomainErrorKind.NotFound));
            Assert.That(() => persona.EnsureChangeableBy(new UserBuilder().Named("root").Admin().Build()), Refused.As(DomainErrorKind.NotFound), "an admin does not see a user's personal persona either");
        });
    }

    [Test]
    public void ASharedPersona_IsMadeAndChangedByAdminsOnly_AndSeenByEveryone()
    {
        var admin = new UserBuilder().Named("root").Admin().Build();
        var user = new UserBuilder().Build();

        Assert.That(() => Persona.Create(user, shared: true, PersonaName.From("Tutor"),
            SystemPrompt.FromOptional("Explain."), null, null, Now), Refused.As(DomainErrorKind.Forbidden));
        var shared = Persona.Create(admin, shared: true, PersonaName.From("Tutor"), SystemPrompt.FromOptional("Explain."), null, null, Now);

        Assert.Multiple(() =>
        {
            Assert.That(shared.IsShared, Is.True);
            Assert.That(shared.IsVisibleTo(user), Is.True);
            Assert.That(() => shared.EnsureChangeableBy(user), Refused.As(DomainErrorKind.Forbidden));
            Assert.DoesNotThrow(() => shared.Change(admin, PersonaName.From("Teacher"), SystemPrompt.FromOptional("Teach."),
                null, 0.5, Now.AddMinutes(1)));
            Assert.That(shared.Name.Value, Is.EqualTo("Teacher"));
            Assert.That(shared.UpdatedAt, Is.EqualTo(Now.AddMinutes(1)));
        });
    }

    [Test]
    public void APersona_NeedsANameOfOneLine_AndASystemPrompt_AndATemperatureInRange()
    {
        var owner = new UserBuilder().Build();

        Assert.Multiple(() =>
        {
            Assert.That(() => PersonaName.From("  "), Throws.InstanceOf<DomainException>().With.Property("Field").EqualTo("name"));
            Assert.That(() => PersonaName.From(new string('n', PersonaName.MaxLength + 1)), Throws.InstanceOf<DomainException>());
            Assert.That(() => PersonaName.From("two\nlines"), Throws.InstanceOf<DomainException>());
            Assert.That(PersonaName.From("  Pirate ").Value, Is.EqualTo("Pirate"));
            Assert.That(() => Persona.Create(owner, false, PersonaName.From("A"), null, null, null, Now),
                Throws.InstanceOf<DomainException>().With.Property("Field").EqualTo("systemPrompt"));
            Assert.That(() => Persona.Create(owner, false, PersonaName.From("A"), SystemPrompt.FromOptional("x"), null, 2.5, Now),
                Throws.InstanceOf<DomainException>().With.Property("Field").EqualTo("temperature"));
            Assert.That(Personal(owner).Sampling.Temperature, Is.EqualTo(1.2));
        });
    }

    [Test]
    public void ABannedUser_CannotMakeAPersona()
    {
        var banned = new UserBuilder().Banned().Build();

        Assert.That(() => Personal(banned), Refused.As(DomainErrorKind.Forbidden));
    }
}
