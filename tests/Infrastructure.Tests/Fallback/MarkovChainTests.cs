using MeatLizard.Infrastructure.Inference.Fallback;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Fallback;

public sealed class MarkovChainTests
{
    private const string LizardLore = """
        The meat lizard basks on warm granite every morning.
        A meat lizard guards the copper teapot with great patience.
        Every copper teapot whistles when the meat lizard sings.
        Warm granite makes the meat lizard sleepy and content.
        The copper teapot sits beside the warm granite all day.
        """;

    [Test]
    public void Generate_WithTheSameTrainingAndSeed_GivesTheSameReply()
    {
        var first = Trained(LizardLore);
        var second = Trained(LizardLore);

        var replies = Enumerable.Range(0, 20).Select(seed =>
            (First: first.Generate("tell me something", new Random(seed)),
             Second: second.Generate("tell me something", new Random(seed)))).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(replies.Select(r => r.First), Is.EqualTo(replies.Select(r => r.Second)));
            Assert.That(replies.Select(r => r.First).Distinct().Count(), Is.GreaterThan(1), "seeds should matter");
        });
    }

    [Test]
    public void Generate_UsesOnlyWordsFromTheTrainingText()
    {
        var chain = Trained(LizardLore);
        var vocabulary = LizardLore.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            .Select(w => w.ToLowerInvariant().TrimEnd('.', '…')).ToHashSet();

        var words = Enumerable.Range(0, 50)
            .SelectMany(seed => chain.Generate("hello", new Random(seed)).Split(' '))
            .Select(w => w.ToLowerInvariant().TrimEnd('.', '…'))
            .Distinct();

        Assert.That(words, Is.SubsetOf(vocabulary));
    }

    [Test]
    public void Generate_WhenThePromptSharesALearnedWord_StartsFromThatWord()
    {
        var chain = Trained(LizardLore + "\nSunny days are for reading quietly outside.");

        var replies = Enumerable.Range(0, 20).Select(seed => chain.Generate("What about the TEAPOT?", new Random(seed)));

        Assert.That(replies, Has.All.Contains("teapot"));
    }

    [Test]
    public void Generate_PrefersThePromptsMostSpecificLearnedWord()
    {
        var chain = Trained(LizardLore + "\nThe meat lizard once met a friendly walrus at the harbour.");

        var replies = Enumerable.Range(0, 20)
            .Select(seed => chain.Generate("Did the lizard meet the walrus?", new Random(seed)));

        Assert.That(replies, Has.All.Contains("walrus"));
    }

    [Test]
    public void Generate_StopsAtASentenceEndOnceItHasEnoughWords()
    {
        var chain = Trained("One two three four five six seven.\nAlpha beta gamma delta epsilon zeta eta.");

        var reply = chain.Generate("nothing shared", new Random(3));

        Assert.Multiple(() =>
        {
            Assert.That(reply.Split(' '), Has.Length.GreaterThanOrEqualTo(MarkovChain.MinWords).And.Length.LessThanOrEqualTo(7));
            Assert.That(reply, Does.EndWith("."));
        });
    }

    [Test]
    public void Generate_StopsAtMaxWords()
    {
        var chain = Trained(string.Join(' ', Enumerable.Range(0, 500).Select(i => $"word{i}")) + ".");

        var reply = chain.Generate("hello", new Random(1), maxWords: 12);

        Assert.That(reply.Split(' '), Has.Length.EqualTo(12));
    }

    [Test]
    public void Generate_AfterShortSentences_KeepsGoingUntilItHasEnoughWords()
    {
        var chain = Trained("Hi.\nYes.\nOkay then.");

        var reply = chain.Generate("hello", new Random(5));

        Assert.That(reply.Split(' '), Has.Length.GreaterThanOrEqualTo(MarkovChain.MinWords));
    }

    [Test]
    public void Generate_BeforeAnyLearning_ReturnsEmpty()
    {
        Assert.That(new MarkovChain().Generate("hello", new Random(1)), Is.Empty);
    }

    [Test]
    public void Learn_BeyondTheStateCap_IsIgnored()
    {
        var chain = new MarkovChain(maxStates: 50);

        chain.Learn(string.Join(' ', Enumerable.Range(0, 1_000).Select(i => $"w{i}")));
        chain.Learn("A completely new sentence arrives here.");

        Assert.Multiple(() =>
        {
            Assert.That(chain.StateCount, Is.EqualTo(50));
            Assert.That(chain.Generate("hello", new Random(1)), Is.Not.Empty);
        });
    }

    [Test]
    public void Learn_SkipsFencedCode()
    {
        var chain = Trained("Here is the answer you wanted.\n```\nint secretValue = 42;\n```\nHope that helps you today.");

        var words = Enumerable.Range(0, 30).SelectMany(seed => chain.Generate("x", new Random(seed)).Split(' '));

        Assert.That(words, Has.None.Contains("secretValue"));
    }

    [Test]
    public async Task LearnAndGenerate_OnManyThreadsAtOnce_NeitherFailsNorReturnsEmpty()
    {
        var chain = Trained(LizardLore);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        var learners = Enumerable.Range(0, 3).Select(t => Task.Run(() =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                chain.Learn($"Thread {t} learned fact number {i} about copper teapots.");
            }
        }));
        var generators = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            var random = new Random(t);
            var empty = 0;
            var count = 0;
            while (!stop.IsCancellationRequested)
            {
                empty += chain.Generate("copper teapot", random).Length == 0 ? 1 : 0;
                count++;
            }

            return (empty, count);
        })).ToList();

        await Task.WhenAll(learners);
        var results = await Task.WhenAll(generators);

        Assert.Multiple(() =>
        {
            Assert.That(results.Sum(r => r.empty), Is.Zero);
            Assert.That(results.Sum(r => r.count), Is.GreaterThan(0));
        });
    }

    private static MarkovChain Trained(string text)
    {
        var chain = new MarkovChain();
        chain.Learn(text);
        return chain;
    }
}
