using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>
/// Answers when no worker can, in the mode configured now (<see cref="FallbackOptions.Mode"/>, read on every call):
/// a notice saying why, or a Markov-chain reply trained on the built-in corpus and on the model's own answers.
/// </summary>
public sealed class FallbackResponder : IFallbackResponder
{
    public const string NoWorkerNotice =
        "The model host is offline right now, so this message could not be answered. It is saved; try again later.";

    public const string NoAckNotice =
        "The model host did not respond in time, so this message could not be answered. It is saved; try again later.";

    public const string NoCompletionNotice =
        "The model host did not finish its answer in time, so this message could not be fully answered. It is saved; try again later.";

    private readonly IOptionsMonitor<FallbackOptions> _options;
    private readonly MarkovChain _chain = new();

    public FallbackResponder(IOptionsMonitor<FallbackOptions> options)
    {
        _options = options;
        foreach (var sentence in BuiltInCorpus.Sentences)
        {
            _chain.Learn(sentence);
        }
    }

    public FallbackMode Mode => _options.CurrentValue.Mode;

    public Task<FallbackReply> ReplyAsync(string prompt, RelayTimeoutReason reason, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Mode != FallbackMode.Markov)
        {
            return Task.FromResult(new FallbackReply(NoticeFor(reason), MessageSource.Notice));
        }

        var text = _chain.Generate(prompt ?? string.Empty, Random.Shared);
        if (string.IsNullOrWhiteSpace(text))
        {
            var corpus = BuiltInCorpus.Sentences;
            text = corpus[Random.Shared.Next(corpus.Count)];
        }

        return Task.FromResult(new FallbackReply(text, MessageSource.Fallback));
    }

    public void Learn(string modelAnswer)
    {
        if (!string.IsNullOrWhiteSpace(modelAnswer))
        {
            _chain.Learn(modelAnswer);
        }
    }

    private static string NoticeFor(RelayTimeoutReason reason) => reason switch
    {
        RelayTimeoutReason.NoAck => NoAckNotice,
        RelayTimeoutReason.NoCompletion => NoCompletionNotice,
        _ => NoWorkerNotice,
    };
}
