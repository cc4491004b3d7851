using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;

namespace MeatLizard.Domain.Tests.Builders;

public sealed class SessionBuilder
{
    private ChatId _id = ChatId.New();
    private UserId _ownerId = UserId.New();
    private string _title = "A chat";
    private ChatStatus _status = ChatStatus.Active;
    private string? _model;
    private string? _systemPrompt;
    private SamplingParameters _sampling = SamplingParameters.Default;

    public SessionBuilder WithId(ChatId id)
    {
        _id = id;
        return this;
    }

    public SessionBuilder OwnedBy(User owner)
    {
        _ownerId = owner.Id;
        return this;
    }

    public SessionBuilder Titled(string title)
    {
        _title = title;
        return this;
    }

    public SessionBuilder Closed()
    {
        _status = ChatStatus.Closed;
        return this;
    }

    public SessionBuilder WithModel(string? model)
    {
        _model = model;
        return this;
    }

    public SessionBuilder WithSystemPrompt(string? systemPrompt)
    {
        _systemPrompt = systemPrompt;
        return this;
    }

    public SessionBuilder WithSampling(SamplingParameters sampling)
    {
        _sampling = sampling;
        return this;
    }

    public Chat Build() =>
        Chat.Restore(_id, _ownerId, ChatTitle.From(_title), _status, ModelName.FromOptional(_model),
            SystemPrompt.FromOptional(_systemPrompt), _sampling, Moments.T0, Moments.T0,
            _status == ChatStatus.Closed ? Moments.T0 : null);
}
