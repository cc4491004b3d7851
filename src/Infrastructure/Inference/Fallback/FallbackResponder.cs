using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>
/// Answers when no worker can, in the mode in force now (read on every call: the admins' <c>/fallback</c> choice from
/// the settings table, else <see cref="FallbackOptions.Mode"/>):
/// a notice saying why, or a Markov-chain reply trained on the built-in corpus and on the model's answers in the asking user's own chats
/// (<see cref="UserFallbackChains"/>).
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
    private readonly IRuntimeSettings _settings;
    private readonly UserFallbackChains _chains;

    public FallbackResponder(IOptionsMonitor<FallbackOptions> options, IRuntimeSettings settings, UserFallbackChains chains)
    {
        _options = options;
        _settings = settings;
        _chains = chains;
    }

    public ValueTask<FallbackMode> GetModeAsync(CancellationToken cancellationToken) =>
        _settings.FallbackModeAsync(_options.CurrentValue.Mode, cancellationToken);

    public async Task<FallbackReply> ReplyAsync(
        UserId asker, string prompt, RelayTimeoutReason reason, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (await GetModeAsync(cancellationToken) != FallbackMode.Markov)
        {
            return new FallbackReply(NoticeFor(reason), MessageSource.Notice);
        }

        var chain = await _chains.ForAsync(asker, cancellationToken);
        var text = chain.Generate(prompt ?? string.Empty, Random.Shared);
        if (string.IsNullOrWhiteSpace(text))
        {
            var corpus = BuiltInCorpus.Sentences;
            text = corpus[Random.Shared.Next(corpus.Count)];
        }

        return new FallbackReply(text, MessageSource.Fallback);
    }

    public void Learn(UserId owner, string modelAnswer)
    {
        if (!string.IsNullOrWhiteSpace(modelAnswer))
        {
            _chains.Learn(owner, modelAnswer);
        }
    }

    private static string NoticeFor(RelayTimeoutReason reason) => reason switch
    {
        RelayTimeoutReason.NoAck => NoAckNotice,
        RelayTimeoutReason.NoCompletion => NoCompletionNotice,
        _ => NoWorkerNotice,
    };
}
