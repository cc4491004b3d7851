using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Domain.Tests.Builders;

/// <summary>
/// Builds a request in any state by driving it through the real transitions (so a built request is one the domain
/// itself could have produced), then clears the events those transitions raised.
/// Dispatch happens at T0 + 1 s with a 10 s ack timeout and a 60 s completion timeout.
/// </summary>
public sealed class RelayRequestBuilder
{
    public static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan CompletionTimeout = TimeSpan.FromSeconds(60);
    public static readonly DateTimeOffset DispatchedAt = Moments.At(1);

    private ChatId _chatId = ChatId.New();
    private UserId _userId = UserId.New();
    private MessageId _userMessageId = MessageId.New();
    private SamplingParameters _sampling = SamplingParameters.Default;
    private RelayRequestStatus _status = RelayRequestStatus.Pending;
    private GenerationOptions? _options;
    private bool _acked;

    public RelayRequestBuilder ForSession(ChatId chatId)
    {
        _chatId = chatId;
        return this;
    }

    public RelayRequestBuilder ForUser(UserId userId)
    {
        _userId = userId;
        return this;
    }

    public RelayRequestBuilder Asking(MessageId userMessageId)
    {
        _userMessageId = userMessageId;
        return this;
    }

    public RelayRequestBuilder WithSampling(SamplingParameters sampling)
    {
        _sampling = sampling;
        return this;
    }

    public RelayRequestBuilder WithOptions(GenerationOptions options)
    {
        _options = options;
        return this;
    }

    public RelayRequestBuilder In(RelayRequestStatus status)
    {
        _status = status;
        return this;
    }

    public RelayRequestBuilder Dispatched() => In(RelayRequestStatus.Dispatched);

    /// <summary>Dispatched and acknowledged at T0 + 2 s.</summary>
    public RelayRequestBuilder Acked()
    {
        _acked = true;
        return In(RelayRequestStatus.Dispatched);
    }

    /// <summary>Streaming, after partial 1 at T0 + 3 s.</summary>
    public RelayRequestBuilder Streaming() => In(RelayRequestStatus.Streaming);

    public RelayRequest Build()
    {
        var request = RelayRequest.Create(_chatId, _userId, _userMessageId, _sampling, Moments.T0, _options);
        switch (_status)
        {
            case RelayRequestStatus.Pending:
                break;
            case RelayRequestStatus.Dispatched:
                Dispatch(request);
                break;
            case RelayRequestStatus.Streaming:
                Dispatch(request);
                request.ReceivePartial(1, Moments.At(3));
                break;
            case RelayRequestStatus.Completed:
                Dispatch(request);
                request.Complete(MessageId.New(), Moments.At(4));
                break;
            case RelayRequestStatus.TimedOut:
                Dispatch(request);
                request.TimeOut(RelayTimeoutReason.NoAck, Moments.At(11));
                break;
            case RelayRequestStatus.Fallback:
                Dispatch(request);
                request.TimeOut(RelayTimeoutReason.NoAck, Moments.At(11));
                request.FallBack(MessageId.New(), Moments.At(11));
                break;
            case RelayRequestStatus.Failed:
                Dispatch(request);
                request.Fail("engine_down", MessageId.New(), Moments.At(4));
                break;
            case RelayRequestStatus.Cancelled:
                Dispatch(request);
                request.Cancel(Moments.At(4));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(_status), _status, "No such state.");
        }

        return request;
    }

    private void Dispatch(RelayRequest request)
    {
        request.Dispatch(DispatchedAt, AckTimeout, CompletionTimeout);
        if (_acked)
        {
            request.Acknowledge(Moments.At(2));
        }
    }
}
