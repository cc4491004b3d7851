namespace MeatLizard.Application.Abstractions;

/// <summary>
/// The pieces of each answer in flight where every relay server process can read them. With two server bots each
/// takes some of a host's envelopes, so neither holds the whole of an answer; the one that hands a request back (its
/// host is gone) reads the other's pieces here, and the next attempt goes on from all that clients were shown. One
/// process needs none of it: its own stream is whole (<see cref="NoAnswerPieces"/>).
/// </summary>
public interface IAnswerPieces
{
    /// <summary>Keeps pieces as they arrive, without waiting: a piece not kept only means a start from the beginning.</summary>
    void Keep(Guid requestId, IReadOnlyList<(int Seq, string Text)> pieces);

    /// <summary>Every piece kept of the request's answer, of every attempt, in no order; none when nothing was kept.</summary>
    Task<IReadOnlyList<(int Seq, string Text)>> ReadAsync(Guid requestId, CancellationToken cancellationToken);
}

/// <summary>One relay server process: its own stream has every piece, so none is kept elsewhere.</summary>
public sealed class NoAnswerPieces : IAnswerPieces
{
    public void Keep(Guid requestId, IReadOnlyList<(int Seq, string Text)> pieces)
    {
    }

    public Task<IReadOnlyList<(int Seq, string Text)>> ReadAsync(Guid requestId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<(int Seq, string Text)>>([]);
}
