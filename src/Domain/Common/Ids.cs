namespace MeatLizard.Domain.Common;

public readonly record struct UserId(Guid Value)
{
    public static UserId New() => new(Guid.CreateVersion7());

    public override string ToString() => Value.ToString();
}

public readonly record struct ApiKeyId(Guid Value)
{
    public static ApiKeyId New() => new(Guid.CreateVersion7());

    public override string ToString() => Value.ToString();
}

public readonly record struct ChatId(Guid Value)
{
    public static ChatId New() => new(Guid.CreateVersion7());

    public override string ToString() => Value.ToString();
}

public readonly record struct MessageId(Guid Value)
{
    public static MessageId New() => new(Guid.CreateVersion7());

    public override string ToString() => Value.ToString();
}

public readonly record struct RelayRequestId(Guid Value)
{
    public static RelayRequestId New() => new(Guid.CreateVersion7());

    public override string ToString() => Value.ToString();
}

public readonly record struct InferenceJobId(Guid Value)
{
    public static InferenceJobId New() => new(Guid.CreateVersion7());

    public override string ToString() => Value.ToString();
}

public readonly record struct InviteId(Guid Value)
{
    public static InviteId New() => new(Guid.CreateVersion7());

    public override string ToString() => Value.ToString();
}

public readonly record struct PersonaId(Guid Value)
{
    public static PersonaId New() => new(Guid.CreateVersion7());

    public override string ToString() => Value.ToString();
}
