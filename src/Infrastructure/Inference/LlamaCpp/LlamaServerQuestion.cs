using System.Runtime.CompilerServices;
using System.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.ChatCompletions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// One request's chat body put to llama-server until it is answered: streamed from a run's chat endpoint, asked
/// again of the next run when the run it was meant for had died before it got there, asked once more of the same
/// run when only its connection broke before the answer began, and handed back (engine_lost) when the answer was cut.
/// An answer an earlier attempt had started is prefilled; llama-server's copy of it is taken out (<see cref="EchoedStart"/>).
/// </summary>
internal sealed partial class LlamaServerQuestion(
    LlamaServerSupervisor supervisor,
    HttpClient http,
    LlamaServerDeadline deadline,
    ILogger logger,
    Guid requestId,
    string body,
    string? start,
    Action<InferenceCompleted, ChatCompletionsStream> completed)
{
    // Asked once more of the same run after its connection broke: not again.
    private bool _askedAgain;

    /// <summary>How one ask of a run ended, when it did not fail.</summary>
    private enum End
    {
        /// <summary>The answer was read to its end.</summary>
        Answered,

        /// <summary>No connection: the run had died before the question reached it.</summary>
        Unreached,

        /// <summary>Only its connection broke, before the answer began: asked of the same run again.</summary>
        AskAgain,
    }

    /// <summary>The answer's updates, from <paramref name="run"/> or the runs after it.</summary>
    public async IAsyncEnumerable<InferenceUpdate> AnswerAsync(LlamaServerRun run)
    {
        while (true)
        {
            var attempt = new Attempt(run, start is null ? null : new EchoedStart(start));
            await foreach (var update in AskAsync(attempt))
            {
                yield return update;
            }

            switch (attempt.End)
            {
                case End.AskAgain:
                    continue;
                case End.Answered:
                    yield break;
            }

            // Not this question's doing, so it is not handed back: it waits for the next run, here.
            LogWaitingForNextRun(logger, requestId, run.Number);
            var asked = run.Number;
            run = await deadline.KeepAsync(token => supervisor.ReadyRunAsync(after: asked, token));
        }
    }

    /// <summary>One ask of one run: its answer's updates as they stream, without the echo of the start.</summary>
    private async IAsyncEnumerable<InferenceUpdate> AskAsync(Attempt attempt)
    {
        var asked = attempt.Run;
        var stream = new ChatCompletionsStream(http, () =>
        {
            var post = asked.Request(HttpMethod.Post, "v1/chat/completions");
            post.Content = new StringContent(body, Encoding.UTF8, "application/json");
            // llama-server closes a streamed answer's connection although it says keep-alive: a question sent on it
            // before the close is seen gets no answer (its connection "broke", asked again). A connection of its own.
            post.Headers.ConnectionClose = true;
            return post;
        }, "llama-server", deadline.Token);
        await using (stream)
        {
            while (await NextAsync(stream, attempt) is { } update)
            {
                attempt.Answered = true;
                if (update is InferenceCompleted done)
                {
                    completed(done, stream);
                }

                foreach (var own in WithoutEcho(update, attempt.Echo))
                {
                    yield return own;
                }
            }
        }
    }

    /// <summary>
    /// The stream's next update; null at its end, or when this ask ended without an answer (<see cref="Attempt.End"/>
    /// says why). Throws when the answer is lost: the run died while it had the question, or its connection broke
    /// mid-answer.
    /// </summary>
    private async Task<InferenceUpdate?> NextAsync(ChatCompletionsStream stream, Attempt attempt)
    {
        try
        {
            return await stream.NextAsync();
        }
        catch (OperationCanceledException) when (deadline.Passed)
        {
            throw deadline.TimedOut();
        }
        catch (HttpRequestException ex) when (!attempt.Answered && ex.HttpRequestError == HttpRequestError.ConnectionError)
        {
            // No connection: the llama-server it was meant for had died before the question reached it.
            attempt.End = End.Unreached;
            return null;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            if (await supervisor.HasEndedAsync(attempt.Run))
            {
                // Died while it had the question: the guard starts llama-server again, and the question is handed
                // back to be asked once more (a question that kills it every time ends in a notice).
                supervisor.NoteLost(attempt.Run);
                throw new InferenceFailedException(
                    $"llama-server stopped while answering{LlamaServerSupervisor.Suffix(supervisor.LastError)}", ex)
                {
                    EngineLost = true,
                };
            }

            // Only this connection broke; llama-server lives and answers the next question. (Before, any broken
            // connection was taken for its death, and every later question waited for a next run that never came:
            // the soak's host that took work and answered none.) Not answered yet: asked again here, once.
            // Mid-answer: handed back, to be asked again from the start.
            LogConnectionBroke(logger, requestId, attempt.Answered);
            if (!attempt.Answered && !_askedAgain)
            {
                _askedAgain = true;
                attempt.End = End.AskAgain;
                return null;
            }

            throw new InferenceFailedException("The connection to llama-server broke mid-answer; it is asked again.", ex)
            {
                EngineLost = true,
            };
        }
    }

    /// <summary>
    /// The update as clients see it: a delta without what llama-server echoed of the prefilled start (none, while the
    /// echo lasts), and before anything else, what was held back as a possible echo but was not one.
    /// </summary>
    private static IEnumerable<InferenceUpdate> WithoutEcho(InferenceUpdate update, EchoedStart? echo)
    {
        if (echo is null)
        {
            yield return update;
        }
        else if (update is InferenceDelta delta)
        {
            if (echo.Pass(delta) is { } own)
            {
                yield return own;
            }
        }
        else
        {
            if (echo.Rest() is { } rest)
            {
                yield return rest;
            }

            yield return update;
        }
    }

    /// <summary>One ask of one run, and what came of it.</summary>
    private sealed class Attempt(LlamaServerRun run, EchoedStart? echo)
    {
        public LlamaServerRun Run { get; } = run;

        /// <summary>What takes out llama-server's copy of the prefilled start (null: nothing was prefilled).</summary>
        public EchoedStart? Echo { get; } = echo;

        /// <summary>llama-server began answering.</summary>
        public bool Answered { get; set; }

        public End End { get; set; } = End.Answered;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Request {RequestId}: the connection to llama-server broke (answering already: {Answering}) while llama-server lives")]
    private static partial void LogConnectionBroke(ILogger logger, Guid requestId, bool answering);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId} found llama-server run {Run} gone before it reached it; it waits for the next run")]
    private static partial void LogWaitingForNextRun(ILogger logger, Guid requestId, int run);
}
