using MeatLizard.Domain.Common;
using MeatLizard.Domain.Inference;
using MeatLizard.Domain.Tests.Builders;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

public class InferenceJobTests
{
    private static InferenceJob Received() => InferenceJob.Receive(RelayRequestId.New(), ChatId.New(), Moments.T0);

    private static InferenceJob Running()
    {
        var job = Received();
        job.Start(Moments.At(1));
        return job;
    }

    private static InferenceJob InState(InferenceJobStatus status)
    {
        var job = Received();
        switch (status)
        {
            case InferenceJobStatus.Received:
                break;
            case InferenceJobStatus.Running:
                job.Start(Moments.At(1));
                break;
            case InferenceJobStatus.Completed:
                job.Start(Moments.At(1));
                job.Complete(1, 1, Moments.At(2));
                break;
            case InferenceJobStatus.Failed:
                job.Start(Moments.At(1));
                job.Fail("boom", Moments.At(2));
                break;
            case InferenceJobStatus.Cancelled:
                job.Cancel(Moments.At(2));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(status));
        }

        return job;
    }

    [Test]
    public void Receive_IsReceived_WithNoTimingsYet()
    {
        var requestId = RelayRequestId.New();
        var chatId = ChatId.New();

        var job = InferenceJob.Receive(requestId, chatId, Moments.T0);

        Assert.That(job.Status, Is.EqualTo(InferenceJobStatus.Received));
        Assert.That(job.RequestId, Is.EqualTo(requestId));
        Assert.That(job.ChatId, Is.EqualTo(chatId));
        Assert.That(job.ReceivedAt, Is.EqualTo(Moments.T0));
        Assert.That(job.QueueTime, Is.Null);
        Assert.That(job.TimeToFirstToken, Is.Null);
        Assert.That(job.RunTime, Is.Null);
        Assert.That(job.IsFinished, Is.False);
    }

    [Test]
    public void Start_Received_RunsAndMeasuresQueueTime()
    {
        var job = Received();

        job.Start(Moments.At(2));

        Assert.That(job.Status, Is.EqualTo(InferenceJobStatus.Running));
        Assert.That(job.QueueTime, Is.EqualTo(TimeSpan.FromSeconds(2)));
    }

    [TestCase(InferenceJobStatus.Running)]
    [TestCase(InferenceJobStatus.Completed)]
    [TestCase(InferenceJobStatus.Failed)]
    [TestCase(InferenceJobStatus.Cancelled)]
    public void Start_FromAnyOtherState_IsRejected(InferenceJobStatus status)
    {
        var job = InState(status);

        Assert.That(() => job.Start(Moments.At(5)), Refused.As(DomainErrorKind.Conflict));
        Assert.That(job.Status, Is.EqualTo(status));
    }

    [Test]
    public void RecordOutput_TakesTheFirstTokenTimeOnce_AndAddsTokens()
    {
        var job = Running();

        job.RecordOutput(3, Moments.At(1.5));
        job.RecordOutput(4, Moments.At(2));

        Assert.That(job.FirstTokenAt, Is.EqualTo(Moments.At(1.5)));
        Assert.That(job.TimeToFirstToken, Is.EqualTo(TimeSpan.FromSeconds(0.5)));
        Assert.That(job.CompletionTokens, Is.EqualTo(7));
    }

    [Test]
    public void RecordOutput_OfNoToken_TheStartOfAnAnswerGivenBack_StartsNoTimeToFirstToken()
    {
        var job = Running();

        job.RecordOutput(0, Moments.At(1.1));
        job.RecordOutput(2, Moments.At(1.8));

        Assert.That(job.FirstTokenAt, Is.EqualTo(Moments.At(1.8)));
        Assert.That(job.CompletionTokens, Is.EqualTo(2));
    }

    [TestCase(InferenceJobStatus.Received)]
    [TestCase(InferenceJobStatus.Completed)]
    [TestCase(InferenceJobStatus.Failed)]
    [TestCase(InferenceJobStatus.Cancelled)]
    public void RecordOutput_WhenNotRunning_IsRejected(InferenceJobStatus status) =>
        Assert.That(() => InState(status).RecordOutput(1, Moments.At(5)), Refused.As(DomainErrorKind.Conflict));

    [Test]
    public void RecordOutput_NegativeTokens_Throws() =>
        Assert.That(() => Running().RecordOutput(-1, Moments.At(2)), Throws.InstanceOf<ArgumentOutOfRangeException>());

    [Test]
    public void Complete_Running_StoresTokensAndRunTime()
    {
        var job = Running();
        job.RecordOutput(2, Moments.At(1.5));

        job.Complete(12, 30, Moments.At(4));

        Assert.That(job.Status, Is.EqualTo(InferenceJobStatus.Completed));
        Assert.That(job.IsFinished, Is.True);
        Assert.That(job.PromptTokens, Is.EqualTo(12));
        Assert.That(job.CompletionTokens, Is.EqualTo(30), "the engine's count is authoritative");
        Assert.That(job.FinishedAt, Is.EqualTo(Moments.At(4)));
        Assert.That(job.RunTime, Is.EqualTo(TimeSpan.FromSeconds(3)));
    }

    [TestCase(InferenceJobStatus.Received)]
    [TestCase(InferenceJobStatus.Completed)]
    [TestCase(InferenceJobStatus.Failed)]
    [TestCase(InferenceJobStatus.Cancelled)]
    public void Complete_WhenNotRunning_IsRejected(InferenceJobStatus status)
    {
        var job = InState(status);

        Assert.That(() => job.Complete(1, 1, Moments.At(9)), Refused.As(DomainErrorKind.Conflict));
        Assert.That(job.Status, Is.EqualTo(status));
    }

    [TestCase(-1, 0)]
    [TestCase(0, -1)]
    public void Complete_NegativeTokenCounts_Throw_AndTheJobKeepsRunning(int prompt, int completion)
    {
        var job = Running();

        Assert.That(() => job.Complete(prompt, completion, Moments.At(3)),
            Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(job.Status, Is.EqualTo(InferenceJobStatus.Running));
    }

    [TestCase(InferenceJobStatus.Received)]
    [TestCase(InferenceJobStatus.Running)]
    public void Fail_BeforeTheEnd_RecordsTheError(InferenceJobStatus status)
    {
        var job = InState(status);

        job.Fail("model missing", Moments.At(3));

        Assert.That(job.Status, Is.EqualTo(InferenceJobStatus.Failed));
        Assert.That(job.Error, Is.EqualTo("model missing"));
        Assert.That(job.FinishedAt, Is.EqualTo(Moments.At(3)));
    }

    [Test]
    public void Fail_WithBlankError_SaysUnknownError()
    {
        var job = Running();

        job.Fail(" ", Moments.At(3));

        Assert.That(job.Error, Is.EqualTo("unknown error"));
    }

    [TestCase(InferenceJobStatus.Completed)]
    [TestCase(InferenceJobStatus.Failed)]
    [TestCase(InferenceJobStatus.Cancelled)]
    public void Fail_AfterTheEnd_IsRejected(InferenceJobStatus status)
    {
        var job = InState(status);

        Assert.That(() => job.Fail("late", Moments.At(9)), Refused.As(DomainErrorKind.Conflict));
        Assert.That(job.Status, Is.EqualTo(status));
    }

    [TestCase(InferenceJobStatus.Received)]
    [TestCase(InferenceJobStatus.Running)]
    public void Cancel_BeforeTheEnd_Cancels(InferenceJobStatus status)
    {
        var job = InState(status);

        Assert.That(job.Cancel(Moments.At(3)), Is.True);
        Assert.That(job.Status, Is.EqualTo(InferenceJobStatus.Cancelled));
        Assert.That(job.FinishedAt, Is.EqualTo(Moments.At(3)));
    }

    [TestCase(InferenceJobStatus.Completed)]
    [TestCase(InferenceJobStatus.Failed)]
    [TestCase(InferenceJobStatus.Cancelled)]
    public void Cancel_AfterTheEnd_IsANoOp(InferenceJobStatus status)
    {
        var job = InState(status);
        var finishedBefore = job.FinishedAt;

        Assert.That(job.Cancel(Moments.At(9)), Is.False);
        Assert.That(job.Status, Is.EqualTo(status));
        Assert.That(job.FinishedAt, Is.EqualTo(finishedBefore));
    }
}
