using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// Which images of a prompt go to its host. A chat that goes on takes its earlier turns' images with them (a multimodal
/// model needs them to talk about them), within what one request carries: at most <c>maxImages</c> images of at most
/// <c>maxBytes</c> together (<see cref="Common.RelayOptions.MaxImagesPerRequest"/>,
/// <see cref="Common.RelayOptions.MaxImageBytesPerRequest"/>). The rule:
/// <list type="number">
/// <item>The question's images (the last turn's, when it is the user's) always go: they were checked against a message's
/// caps when sent, and the question is about them.</item>
/// <item>The earlier turns' images fill what is left, from the newest turn back (within a turn, from its last image
/// back); the first that does not fit ends it, so it and every older image are left out — the oldest go first, and
/// what the host sees is always the most recent images, never a gap. The turns themselves stay, in words.</item>
/// <item>For a host whose model takes no images (<paramref name="earlierTaken"/> false: none that serves the model
/// does), the earlier turns go without theirs: an image sent long ago never makes a chat unanswerable.</item>
/// </list>
/// </summary>
public static class PromptImages
{
    /// <summary>The prompt's turns with only the images that go; <c>Dropped</c>: how many were left out.</summary>
    public static (IReadOnlyList<ChatTurn> Turns, int Dropped) Fit(IReadOnlyList<ChatTurn> turns, int maxImages,
        long maxBytes, bool earlierTaken = true)
    {
        ArgumentNullException.ThrowIfNull(turns);
        if (!turns.Any(t => t.Images is { Count: > 0 }))
        {
            return (turns, 0);
        }

        var question = turns.Count > 0 && turns[^1].Role == MessageRole.User ? turns.Count - 1 : -1;
        var count = 0;
        long bytes = 0;
        if (question >= 0 && turns[question].Images is { } asked)
        {
            count = asked.Count;
            bytes = asked.Sum(i => i.Bytes ?? 0);
        }

        var fitted = turns.ToArray();
        var dropped = 0;
        var full = !earlierTaken;
        for (var i = turns.Count - 1; i >= 0; i--)
        {
            if (i == question || turns[i].Images is not { Count: > 0 } images)
            {
                continue;
            }

            var keptFrom = images.Count;
            while (!full && keptFrom > 0)
            {
                var size = images[keptFrom - 1].Bytes ?? 0;
                if (count + 1 > maxImages || bytes + size > maxBytes)
                {
                    full = true;
                    break;
                }

                count++;
                bytes += size;
                keptFrom--;
            }

            if (keptFrom > 0)
            {
                dropped += keptFrom;
                fitted[i] = turns[i] with { Images = keptFrom == images.Count ? null : [.. images.Skip(keptFrom)] };
            }
        }

        return (fitted, dropped);
    }
}
