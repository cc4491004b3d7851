using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// When a server-sent event stream writes: its events go into the response's buffer, and what is buffered goes out
/// before the stream waits for its next event, so the events ready together are one write. While nothing comes, a
/// comment goes out every keep-alive interval, from one timer at a time — not one per event, which left a timer running
/// for every piece of an answer.
/// </summary>
/// <param name="writer">The response's body.</param>
/// <param name="keepAlive">How long the stream stays silent at most.</param>
/// <param name="comment">The keep-alive comment's text.</param>
/// <param name="stop">Ends the wait (the timer's token).</param>
/// <param name="flushing">The flushes' token.</param>
internal sealed class EventStreamPacing(PipeWriter writer, TimeSpan keepAlive, string comment, CancellationToken stop,
    CancellationToken flushing)
{
    private readonly byte[] _comment = Encoding.UTF8.GetBytes($": {comment}\n\n");
    private Task? _keepAlive;

    /// <summary>Returns once <paramref name="next"/> has completed, having flushed and kept the stream alive meanwhile.</summary>
    public async Task WaitForAsync(Task next)
    {
        while (true)
        {
            _keepAlive ??= Task.Delay(keepAlive, stop);
            if (!next.IsCompleted)
            {
                await writer.FlushAsync(flushing);
            }

            if (await Task.WhenAny(next, _keepAlive) == next)
            {
                return;
            }

            _keepAlive = null;
            stop.ThrowIfCancellationRequested();
            writer.Write(_comment);
        }
    }
}
