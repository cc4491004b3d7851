using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Domain.Tests.Builders;

public sealed class UserBuilder
{
    private UserId _id = UserId.New();
    private string _username = "alice";
    private string _passwordHash = "hash:secret";
    private UserRole _role = UserRole.User;
    private UserStatus _status = UserStatus.Active;
    private UserPreferences _preferences = UserPreferences.None;

    public UserBuilder WithId(UserId id)
    {
        _id = id;
        return this;
    }

    public UserBuilder Named(string username)
    {
        _username = username;
        return this;
    }

    public UserBuilder WithPasswordHash(string passwordHash)
    {
        _passwordHash = passwordHash;
        return this;
    }

    public UserBuilder Admin()
    {
        _role = UserRole.Admin;
        return this;
    }

    public UserBuilder Banned()
    {
        _status = UserStatus.Banned;
        return this;
    }

    public UserBuilder Preferring(string? model, string? systemPrompt)
    {
        _preferences = new UserPreferences(ModelName.FromOptional(model), SystemPrompt.FromOptional(systemPrompt));
        return this;
    }

    public User Build() =>
        User.Restore(_id, Username.From(_username), _passwordHash, _role, _status, _preferences, Moments.T0);
}
