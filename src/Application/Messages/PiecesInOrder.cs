using System.Text;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Messages;

/// <summary>
/// The pieces of one request's answer put back in order for <see cref="AnswerFollower"/>: words are given only while none
/// is missing before them. A piece that comes before one it follows waits for it (a host's packet whose store failed is
/// tried again, off its lane, after the ones behind it are told), and the missing one may still come — again as an
/// event, or from the pieces every relay server process keeps (<see cref="Fill"/>). Pieces of one attempt only: another
/// attempt's first piece starts the answer over, and an earlier attempt's late pieces are dropped. What waits is part of
/// one answer, so it is never more than that answer.
/// </summary>
internal sealed class PiecesInOrder
{
    private readonly SortedDictionary<int, string> _waiting = [];

    /// <summary>The last piece given: every one of its attempt up to it was given.</summary>
    private int _lastSeq;

    /// <summary>The attempt whose pieces are followed; 0 before any came.</summary>
    private int _attempt;

    /// <summary>Pieces of attempts up to this one are void (their request was handed back to another host).</summary>
    private int _voidUpTo;

    /// <summary>Whether pieces wait for one missing before them.</summary>
    public bool Waiting => _waiting.Count > 0;

    /// <summary>
    /// Takes a piece; returns the words it lets be given (it, and those that waited for it), null when none, and whether a
    /// later attempt's piece started the answer over (what was given before is void).
    /// </summary>
    public (AnswerWords? Words, bool StartedOver) Take(int seq, string text)
    {
        var attempt = RelayRequest.AttemptOf(seq);
        if (attempt <= _voidUpTo || attempt < _attempt || seq <= _lastSeq || _waiting.ContainsKey(seq))
        {
            return (null, false); // delivered again (a stream that reconnected, the other server bot's copy), or void
        }

        // Another attempt's pieces, its "requeued" lost on the way: it starts over all the same.
        var startedOver = attempt > _attempt && _lastSeq > 0;
        if (attempt > _attempt)
        {
            (_attempt, _lastSeq) = (attempt, 0);
            _waiting.Clear();
        }

        _waiting.Add(seq, text);
        return (Given(), startedOver);
    }

    /// <summary>
    /// Adds the pieces kept elsewhere (<see cref="Abstractions.IAnswerPieces"/>: every piece of every attempt, in no order)
    /// to those waiting; returns the words that can be given now.
    /// </summary>
    public AnswerWords? Fill(IReadOnlyList<(int Seq, string Text)> kept)
    {
        foreach (var (seq, text) in kept)
        {
            if (RelayRequest.AttemptOf(seq) == _attempt && seq > _lastSeq)
            {
                _waiting.TryAdd(seq, text);
            }
        }

        return Given();
    }

    /// <summary>The answer started over (its request handed back): the attempts seen so far are void.</summary>
    public void StartOver()
    {
        _voidUpTo = Math.Max(_voidUpTo, _attempt);
        _lastSeq = 0;
        _waiting.Clear();
    }

    /// <summary>The waiting pieces that follow on from the last given, as one update; null when the next is missing.</summary>
    private AnswerWords? Given()
    {
        StringBuilder? text = null;
        string? single = null;
        while (_waiting.Count > 0)
        {
            var (seq, piece) = _waiting.First();
            if (!RelayRequest.FollowsOn(_lastSeq, seq))
            {
                break;
            }

            _waiting.Remove(seq);
            _lastSeq = seq;
            if (single is null)
            {
                single = piece;
            }
            else
            {
                (text ??= new StringBuilder(single)).Append(piece);
            }
        }

        return single is null ? null : new AnswerWords(text?.ToString() ?? single, _lastSeq);
    }
}
