using MeatLizard.Infrastructure.Inference;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference;

/// <summary>
/// A model host remembers, across a kill, the attempts its run began answering: its next run leaves those to the server
/// instead of answering them again from the beginning.
/// </summary>
public sealed class FileBegunJobsTests
{
    private string _path = null!;
    private readonly FakeClock _clock = new();

    [SetUp]
    public void SetUp() => _path = Path.Combine(Directory.CreateTempSubdirectory("meatlizard-begun-").FullName, "data",
        FileBegunJobs.FileName);

    [TearDown]
    public void TearDown() => Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(_path))!, recursive: true);

    [Test]
    public void WhatAKilledRunBegan_IsBegunByAnEarlierRun_ForTheNextRun_ThatAttemptOnly()
    {
        var request = Guid.NewGuid();
        var killed = new FileBegunJobs(_path, _clock); // never disposed: the process was killed
        Assert.That(killed.BegunByAnEarlierRun(request, 1), Is.False, "nothing before the first run");
        killed.Begin(request, 1);
        killed.Begin(request, 1);
        Assert.That(killed.BegunByAnEarlierRun(request, 1), Is.False, "a run's own attempts are not an earlier run's");

        using var next = new FileBegunJobs(_path, _clock);
        Assert.That(next.BegunByAnEarlierRun(request, 1), Is.True);
        Assert.That(next.BegunByAnEarlierRun(request, 2), Is.False, "a later attempt is the server's new dispatch");
        Assert.That(next.BegunByAnEarlierRun(Guid.NewGuid(), 1), Is.False);

        // The next run begins it itself (say the server sent it again with the same attempt): its own, so answered.
        next.Begin(request, 1);
        Assert.That(next.BegunByAnEarlierRun(request, 1), Is.False);
    }

    [Test]
    public void AnAttemptBegunLongerAgoThanKept_IsForgotten_AndTheFileKeepsOnlyWhatIsKept()
    {
        var old = Guid.NewGuid();
        var recent = Guid.NewGuid();
        using (var first = new FileBegunJobs(_path, _clock))
        {
            first.Begin(old, 1);
            _clock.Advance(FileBegunJobs.Kept - TimeSpan.FromMinutes(1));
            first.Begin(recent, 3);
        }

        _clock.Advance(TimeSpan.FromMinutes(2));
        using var next = new FileBegunJobs(_path, _clock);
        Assert.That(next.BegunByAnEarlierRun(old, 1), Is.False, "begun longer ago than kept");
        Assert.That(next.BegunByAnEarlierRun(recent, 3), Is.True);
        Assert.That(File.ReadAllLines(_path), Has.Length.EqualTo(1), "rewritten at the start with what is kept");
    }

    [Test]
    public void LinesThatAreNotBegunAttempts_AreIgnored()
    {
        var request = Guid.NewGuid();
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        File.WriteAllLines(_path,
        [
            "garbage", $"{request:N} x 1", $"{request:N} 2 -5", "",
            $"{request:N} 1 {_clock.UtcNow.ToUnixTimeSeconds()}",
        ]);

        using var run = new FileBegunJobs(_path, _clock);
        Assert.That(run.BegunByAnEarlierRun(request, 1), Is.True);
        Assert.That(run.BegunByAnEarlierRun(request, 2), Is.False);
    }

    [Test]
    public void AFileThatCannotBeWritten_CostsTheMemory_NotTheAnswers()
    {
        // A file where its folder should be: nothing can be written there, whoever runs the host.
        File.WriteAllText(Path.GetDirectoryName(_path)!, "in the way");

        using var run = new FileBegunJobs(_path, _clock);
        Assert.DoesNotThrow(() => run.Begin(Guid.NewGuid(), 1));
        Assert.That(run.BegunByAnEarlierRun(Guid.NewGuid(), 1), Is.False);
    }
}
