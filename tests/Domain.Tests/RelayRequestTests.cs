using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Tests.Builders;
using NUnit.Framework;
using static MeatLizard.Domain.Relay.RelayRequestStatus;

namespace MeatLizard.Domain.Tests;

public class RelayRequestTests
{
    private static readonly RelayRequestStatus[] WaitingStates = [Pending, Dispatched, Streaming];
    private static readonly RelayRequestStatus[] InFlightStates = [Dispatched, Streaming];
    private static readonly RelayRequestStatus[] NotInFlightStates = [Pending, Completed, TimedOut, Fallback, Failed, Cancelled];
    private static readonly RelayRequestStatus[] FinishedStates = [Completed, Fallback, Failed, Cancelled];
    private static readonly RelayRequestStatus[] EndedStates = [Completed, TimedOut, Fallback, Failed, Cancelled];
    private static readonly RelayRequestStatus[] AllButPending = [Dispatched, Streaming, Completed, TimedOut, Fallback, Failed, Cancelled];
    private static readonly RelayRequestStatus[] AllButTimedOut = [Pending, Dispatched, Streaming, Completed, Fallback, Failed, Cancelled];

    private static RelayRequest In(RelayRequestStatus status) => new RelayRequestBuilder().In(status).Build();

    // ---- Create ----------------------------------------------------------------------------------------------

    [Test]
    public void Create_IsPending_WithNothingSentYet()
    {
        var sampling = SamplingParameters.Create(maxTokens: 42);
        var chatId = ChatId.New();
        var userId = UserId.New();
        var messageId = MessageId.New();

        var request = RelayRequest.Create(chatId, userId, messageId, sampling, Moments.T0);

        Assert.That(request.Status, Is.EqualTo(Pending));
        Assert.That(request.ChatId, Is.EqualTo(chatId));
        Assert.That(request.UserId, Is.EqualTo(userId));
        Assert.That(request.UserMessageId, Is.EqualTo(messageId));
        Assert.That(request.Sampling, Is.EqualTo(sampling));
        Assert.That(request.Attempts, Is.Zero);
        Assert.That(request.LastSeq, Is.Zero);
        Assert.That(request.IsFinished, Is.False);
        Assert.That(request.IsInFlight, Is.False);
    }

    [TestCase(Pending, false, false)]
    [TestCase(Dispatched, false, true)]
    [TestCase(Streaming, false, true)]
    [TestCase(Completed, true, false)]
    [TestCase(TimedOut, false, false)]
    [TestCase(Fallback, true, false)]
    [TestCase(Failed, true, false)]
    [TestCase(Cancelled, true, false)]
    public void IsFinishedAndIsInFlight_FollowTheState(RelayRequestStatus status, bool finished, bool inFlight)
    {
        var request = In(status);

        Assert.That(request.Status, Is.EqualTo(status), "builder");
        Assert.That(request.IsFinished, Is.EqualTo(finished));
        Assert.That(request.IsInFlight, Is.EqualTo(inFlight));
    }

    // ---- Dispatch --------------------------------------------------------------------------------------------

    [Test]
    public void Dispatch_Pending_SetsDeadlinesAndCountsTheAttempt()
    {
        var request = In(Pending);

        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60));

        Assert.That(request.Status, Is.EqualTo(Dispatched));
        Assert.That(request.Attempts, Is.EqualTo(1));
        Assert.That(request.DispatchedAt, Is.EqualTo(Moments.At(1)));
        Assert.That(request.AckDeadline, Is.EqualTo(Moments.At(11)));
        Assert.That(request.CompletionDeadline, Is.EqualTo(Moments.At(61)));
    }

    [TestCaseSource(nameof(AllButPending))]
    public void Dispatch_FromAnyOtherState_IsRejected(RelayRequestStatus status)
    {
        var request = In(status);

        Assert.That(() => request.Dispatch(Moments.At(50), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)),
            Refused.As(DomainErrorKind.Conflict));
        Assert.That(request.Status, Is.EqualTo(status));
    }

    [TestCase(0, 60)]
    [TestCase(-1, 60)]
    [TestCase(10, 0)]
    [TestCase(10, -5)]
    public void Dispatch_WithNonPositiveTimeouts_IsInvalid_AndStaysPending(int ackSeconds, int completionSeconds)
    {
        var request = In(Pending);

        Assert.That(() => request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(ackSeconds),
            TimeSpan.FromSeconds(completionSeconds)), Refused.As(DomainErrorKind.Invalid));
        Assert.That(request.Status, Is.EqualTo(Pending));
        Assert.That(request.Attempts, Is.Zero);
    }

    // ---- Acknowledge -----------------------------------------------------------------------------------------

    [Test]
    public void Acknowledge_InFlight_RecordsTheAck()
    {
        var request = In(Dispatched);

        Assert.That(request.Acknowledge(Moments.At(2)), Is.True);
        Assert.That(request.AckedAt, Is.EqualTo(Moments.At(2)));
        Assert.That(request.Status, Is.EqualTo(Dispatched));
    }

    [Test]
    public void Acknowledge_Twice_OnlyTheFirstCounts()
    {
        var request = In(Dispatched);
        request.Acknowledge(Moments.At(2));

        Assert.That(request.Acknowledge(Moments.At(5)), Is.False);
        Assert.That(request.AckedAt, Is.EqualTo(Moments.At(2)));
    }

    [Test]
    public void Acknowledge_AfterAPartial_ChangesNothing()
    {
        var request = In(Streaming); // the partial at T0+3 counted as the ack

        Assert.That(request.Acknowledge(Moments.At(5)), Is.False);
        Assert.That(request.AckedAt, Is.EqualTo(Moments.At(3)));
    }

    [TestCaseSource(nameof(NotInFlightStates))]
    public void Acknowledge_WhenNotInFlight_IsIgnored(RelayRequestStatus status)
    {
        var request = In(status);

        Assert.That(request.Acknowledge(Moments.At(5)), Is.False);
        Assert.That(request.AckedAt, Is.Null);
        Assert.That(request.Status, Is.EqualTo(status));
    }

    // ---- ReceivePartial --------------------------------------------------------------------------------------

    [Test]
    public void ReceivePartial_First_StartsStreaming_AndCountsAsAck()
    {
        var request = In(Dispatched);

        Assert.That(request.ReceivePartial(1, Moments.At(3)), Is.True);
        Assert.That(request.Status, Is.EqualTo(Streaming));
        Assert.That(request.LastSeq, Is.EqualTo(1));
        Assert.That(request.AckedAt, Is.EqualTo(Moments.At(3)));
    }

    [Test]
    public void ReceivePartial_AfterAck_KeepsTheAckTime()
    {
        var request = new RelayRequestBuilder().Acked().Build();

        request.ReceivePartial(1, Moments.At(3));

        Assert.That(request.AckedAt, Is.EqualTo(Moments.At(2)));
    }

    [Test]
    public void ReceivePartial_Repeated_IsIgnored()
    {
        var request = In(Streaming);

        Assert.That(request.ReceivePartial(1, Moments.At(4)), Is.False);
        Assert.That(request.LastSeq, Is.EqualTo(1));
    }

    [Test]
    public void ReceivePartial_OutOfOrder_IsIgnored()
    {
        var request = In(Streaming);
        request.ReceivePartial(3, Moments.At(4));

        Assert.That(request.ReceivePartial(2, Moments.At(5)), Is.False);
        Assert.That(request.LastSeq, Is.EqualTo(3));
    }

    [Test]
    public void ReceivePartial_WithAGap_IsAccepted()
    {
        var request = In(Streaming);

        Assert.That(request.ReceivePartial(5, Moments.At(4)), Is.True);
        Assert.That(request.LastSeq, Is.EqualTo(5));
    }

    [TestCase(0)]
    [TestCase(-1)]
    public void ReceivePartial_WithNonPositiveSeq_IsIgnored(int seq)
    {
        var request = In(Dispatched);

        Assert.That(request.ReceivePartial(seq, Moments.At(3)), Is.False);
        Assert.That(request.Status, Is.EqualTo(Dispatched));
    }

    [Test]
    public void CancelledRequests_IgnoreLatePartials()
    {
        var request = In(Dispatched);
        request.Cancel(Moments.At(2));

        Assert.That(request.ReceivePartial(1, Moments.At(3)), Is.False);
        Assert.That(request.Status, Is.EqualTo(Cancelled));
        Assert.That(request.LastSeq, Is.Zero);
        Assert.That(request.AckedAt, Is.Null);
    }

    [TestCaseSource(nameof(NotInFlightStates))]
    public void ReceivePartial_WhenNotInFlight_IsIgnored(RelayRequestStatus status)
    {
        var request = In(status);

        Assert.That(request.ReceivePartial(99, Moments.At(30)), Is.False);
        Assert.That(request.Status, Is.EqualTo(status));
        Assert.That(request.LastSeq, Is.Zero);
    }

    // ---- FirstPieceAt (the measured time to first token) --------------------------------------------------------

    [Test]
    public void FirstPieceAt_IsTheFirstPieceWithText_NotAnEmptyOne_NorALaterOne()
    {
        var request = In(Dispatched);

        request.ReceivePartial(1, Moments.At(3), carriesText: false);
        Assert.That(request.FirstPieceAt, Is.Null);
        request.ReceivePartial(2, Moments.At(4), carriesText: true);
        request.ReceivePartial(2, Moments.At(5), carriesText: true); // repeated
        request.ReceivePartial(3, Moments.At(6), carriesText: true);
        request.Complete(MessageId.New(), Moments.At(7), carriesText: true);

        Assert.That(request.FirstPieceAt, Is.EqualTo(Moments.At(4)));
    }

    [Test]
    public void FirstPieceAt_OfAFinalThatCameAlone_IsTheFinal_WhenItCarriesText()
    {
        var withText = In(Dispatched);
        var empty = In(Dispatched);

        withText.Complete(MessageId.New(), Moments.At(5), carriesText: true);
        empty.Complete(MessageId.New(), Moments.At(5), carriesText: false);

        Assert.That(withText.FirstPieceAt, Is.EqualTo(Moments.At(5)));
        Assert.That(empty.FirstPieceAt, Is.Null);
    }

    [Test]
    public void FirstPieceAt_IsThatOfTheAttemptThatAnswers_ARequeueClearsIt()
    {
        var request = In(Dispatched);
        request.ReceivePartial(1, Moments.At(3));

        request.Requeue("shown");
        Assert.That(request.FirstPieceAt, Is.Null);
        request.Dispatch(Moments.At(10), RelayRequestBuilder.AckTimeout, RelayRequestBuilder.CompletionTimeout);
        request.ReceivePartial(RelayRequest.SeqPerAttempt + 1, Moments.At(12));
        request.Complete(MessageId.New(), Moments.At(13));

        Assert.That(request.FirstPieceAt, Is.EqualTo(Moments.At(12)));
    }

    [Test]
    public void FirstPieceAt_AfterTheRequestEnded_DoesNotChange()
    {
        var request = In(Cancelled);

        request.ReceivePartial(99, Moments.At(30));
        request.Complete(MessageId.New(), Moments.At(31));

        Assert.That(request.FirstPieceAt, Is.Null);
    }

    // ---- Complete --------------------------------------------------------------------------------------------

    [TestCaseSource(nameof(InFlightStates))]
    public void Complete_InFlight_StoresTheAnswer(RelayRequestStatus status)
    {
        var request = In(status);
        var answerId = MessageId.New();

        Assert.That(request.Complete(answerId, Moments.At(8)), Is.True);
        Assert.That(request.Status, Is.EqualTo(Completed));
        Assert.That(request.AnswerMessageId, Is.EqualTo(answerId));
        Assert.That(request.FinishedAt, Is.EqualTo(Moments.At(8)));
    }

    [Test]
    public void Complete_Twice_SecondReturnsFalse_AndChangesNothing()
    {
        var request = In(Streaming);
        var first = MessageId.New();
        request.Complete(first, Moments.At(8));

        Assert.That(request.Complete(MessageId.New(), Moments.At(9)), Is.False);
        Assert.That(request.AnswerMessageId, Is.EqualTo(first));
        Assert.That(request.FinishedAt, Is.EqualTo(Moments.At(8)));
    }

    [TestCase(TimedOut)]
    [TestCase(Fallback)]
    [TestCase(Cancelled)]
    [TestCase(Failed)]
    [TestCase(Pending)]
    public void Complete_WhenNotInFlight_IsANoOp(RelayRequestStatus status)
    {
        var request = In(status);
        var answerBefore = request.AnswerMessageId;
        var finishedBefore = request.FinishedAt;

        Assert.That(request.Complete(MessageId.New(), Moments.At(30)), Is.False);
        Assert.That(request.Status, Is.EqualTo(status));
        Assert.That(request.AnswerMessageId, Is.EqualTo(answerBefore));
        Assert.That(request.FinishedAt, Is.EqualTo(finishedBefore));
    }

    // ---- TimeOut and FallBack --------------------------------------------------------------------------------

    [TestCaseSource(nameof(WaitingStates))]
    public void TimeOut_FromPendingOrInFlight_RecordsTheReason(RelayRequestStatus status)
    {
        var request = In(status);

        request.TimeOut(RelayTimeoutReason.NoCompletion, Moments.At(61));

        Assert.That(request.Status, Is.EqualTo(TimedOut));
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoCompletion));
        Assert.That(request.IsFinished, Is.False, "the fallback has yet to answer");
    }

    [TestCaseSource(nameof(EndedStates))]
    public void TimeOut_FromAnEndedState_IsRejected(RelayRequestStatus status)
    {
        var request = In(status);

        Assert.That(() => request.TimeOut(RelayTimeoutReason.NoAck, Moments.At(61)),
            Refused.As(DomainErrorKind.Conflict));
        Assert.That(request.Status, Is.EqualTo(status));
    }

    [Test]
    public void FallBack_AfterTimeOut_StoresTheFallbackAnswer()
    {
        var request = In(Dispatched);
        request.TimeOut(RelayTimeoutReason.NoAck, Moments.At(11));
        var answerId = MessageId.New();

        request.FallBack(answerId, Moments.At(12));

        Assert.That(request.Status, Is.EqualTo(Fallback));
        Assert.That(request.IsFinished, Is.True);
        Assert.That(request.AnswerMessageId, Is.EqualTo(answerId));
        Assert.That(request.FinishedAt, Is.EqualTo(Moments.At(12)));
    }

    [TestCaseSource(nameof(AllButTimedOut))]
    public void FallBack_WithoutTimeOut_IsRejected(RelayRequestStatus status)
    {
        var request = In(status);

        Assert.That(() => request.FallBack(MessageId.New(), Moments.At(12)), Refused.As(DomainErrorKind.Conflict));
        Assert.That(request.Status, Is.EqualTo(status));
    }

    // ---- Fail ------------------------------------------------------------------------------------------------

    [TestCaseSource(nameof(WaitingStates))]
    public void Fail_BeforeTheEnd_RecordsTheError(RelayRequestStatus status)
    {
        var request = In(status);
        var noticeId = MessageId.New();

        Assert.That(request.Fail("engine_down", noticeId, Moments.At(7)), Is.True);
        Assert.That(request.Status, Is.EqualTo(Failed));
        Assert.That(request.Error, Is.EqualTo("engine_down"));
        Assert.That(request.AnswerMessageId, Is.EqualTo(noticeId));
        Assert.That(request.FinishedAt, Is.EqualTo(Moments.At(7)));
    }

    [TestCase("")]
    [TestCase("   ")]
    public void Fail_WithBlankError_SaysUnknownError(string error)
    {
        var request = In(Dispatched);

        request.Fail(error, null, Moments.At(7));

        Assert.That(request.Error, Is.EqualTo("unknown error"));
    }

    [TestCaseSource(nameof(EndedStates))]
    public void Fail_AfterTheEnd_IsIgnored(RelayRequestStatus status)
    {
        var request = In(status);
        var answerBefore = request.AnswerMessageId;
        var errorBefore = request.Error;

        Assert.That(request.Fail("late", MessageId.New(), Moments.At(70)), Is.False);
        Assert.That(request.Status, Is.EqualTo(status));
        Assert.That(request.AnswerMessageId, Is.EqualTo(answerBefore));
        Assert.That(request.Error, Is.EqualTo(errorBefore));
    }

    // ---- Cancel ----------------------------------------------------------------------------------------------

    [TestCaseSource(nameof(WaitingStates))]
    public void Cancel_BeforeTheEnd_Cancels(RelayRequestStatus status)
    {
        var request = In(status);

        Assert.That(request.Cancel(Moments.At(6)), Is.True);
        Assert.That(request.Status, Is.EqualTo(Cancelled));
        Assert.That(request.AnswerMessageId, Is.Null);
        Assert.That(request.FinishedAt, Is.EqualTo(Moments.At(6)));
    }

    [Test]
    public void Cancel_WhileStreaming_KeepsTheAnswerProducedSoFar()
    {
        var request = In(Streaming);
        var kept = MessageId.New();

        request.Cancel(Moments.At(6), kept);

        Assert.That(request.AnswerMessageId, Is.EqualTo(kept));
    }

    [TestCaseSource(nameof(EndedStates))]
    public void Cancel_AfterTheEnd_IsANoOp(RelayRequestStatus status)
    {
        var request = In(status);
        var answerBefore = request.AnswerMessageId;
        var finishedBefore = request.FinishedAt;

        Assert.That(request.Cancel(Moments.At(80), MessageId.New()), Is.False);
        Assert.That(request.Status, Is.EqualTo(status));
        Assert.That(request.AnswerMessageId, Is.EqualTo(answerBefore));
        Assert.That(request.FinishedAt, Is.EqualTo(finishedBefore));
    }

    [Test]
    public void Complete_AfterCancel_DoesNotReplaceTheKeptAnswer()
    {
        var request = In(Streaming);
        var kept = MessageId.New();
        request.Cancel(Moments.At(6), kept);

        Assert.That(request.Complete(MessageId.New(), Moments.At(7)), Is.False);
        Assert.That(request.AnswerMessageId, Is.EqualTo(kept));
    }

    // ---- IsOverdue -------------------------------------------------------------------------------------------
    // Dispatched at T0+1 with a 10 s ack timeout (deadline T0+11) and a 60 s completion timeout (deadline T0+61).

    [Test]
    public void IsOverdue_Pending_IsNeverOverdue() => Assert.That(In(Pending).IsOverdue(Moments.At(1_000)), Is.False);

    [Test]
    public void IsOverdue_NoAck_BeforeAckDeadline_IsFalse() =>
        Assert.That(In(Dispatched).IsOverdue(Moments.At(10.999)), Is.False);

    [Test]
    public void IsOverdue_NoAck_AtAckDeadline_IsTrue() => Assert.That(In(Dispatched).IsOverdue(Moments.At(11)), Is.True);

    [Test]
    public void IsOverdue_Acked_PastAckDeadlineButBeforeCompletion_IsFalse() =>
        Assert.That(new RelayRequestBuilder().Acked().Build().IsOverdue(Moments.At(60)), Is.False);

    [Test]
    public void IsOverdue_Acked_AtCompletionDeadline_IsTrue() =>
        Assert.That(new RelayRequestBuilder().Acked().Build().IsOverdue(Moments.At(61)), Is.True);

    [Test]
    public void IsOverdue_Streaming_AtCompletionDeadline_IsTrue() =>
        Assert.That(In(Streaming).IsOverdue(Moments.At(61)), Is.True);

    [TestCaseSource(nameof(EndedStates))]
    public void IsOverdue_Ended_IsFalse(RelayRequestStatus status) =>
        Assert.That(In(status).IsOverdue(Moments.At(1_000)), Is.False);

    // ---- The whole happy path ----------------------------------------------------------------------------------

    [Test]
    public void HappyPath_PendingDispatchedStreamingCompleted()
    {
        var request = In(Pending);

        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60));
        Assert.That(request.Acknowledge(Moments.At(2)), Is.True);
        Assert.That(request.ReceivePartial(1, Moments.At(3)), Is.True);
        Assert.That(request.ReceivePartial(2, Moments.At(4)), Is.True);
        Assert.That(request.Complete(MessageId.New(), Moments.At(5)), Is.True);

        Assert.That(request.Status, Is.EqualTo(Completed));
        Assert.That(request.Attempts, Is.EqualTo(1));
        Assert.That(request.LastSeq, Is.EqualTo(2));
        Assert.That(request.IsOverdue(Moments.At(1_000)), Is.False);
    }
}
