using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Chats;
using MeatLizard.Application.Common;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>What one dispatch does with each claimed request, decided before anything is stored or sent.</summary>
public sealed class DispatchPlan
{
    /// <summary>The requests whose change is stored with the batch: those dispatched, and those whose chat is gone (cancelled).</summary>
    public List<RelayRequest> ToStore { get; } = [];

    /// <summary>The requests dispatched, each with the body sent to its host.</summary>
    public List<(RelayRequest Request, RequestBody Body)> Outgoing { get; } = [];

    /// <summary>The requests whose hosts are all busy, with the model they wait for: back to the queue, in order.</summary>
    public List<(RelayRequest Request, string? Model)> Waiting { get; } = [];

    /// <summary>The requests for a model no accepting host serves.</summary>
    /// <remarks><c>Needs</c>: what no host serving the model takes (tools, images), null when none serves it at all.</remarks>
    public List<(RelayRequestId Id, string? Model, string? Needs)> Unserved { get; } = [];

    /// <summary>
    /// The requests only hosts reached through another process serve (another API instance they dialled): back to the
    /// queue, for that process's dispatcher.
    /// </summary>
    public List<RelayRequest> LeftToOthers { get; } = [];
}

/// <summary>
/// Decides where each claimed request goes: in turns over users, prompts built from the chats and histories read with
/// the claim (outside any transaction), each request given a host that serves its model and has a free slot. The
/// prompt's images — the question's and its earlier turns' — go with it within what one request carries
/// (<see cref="PromptImages"/>).
/// </summary>
public sealed partial class DispatchPlanner(
    PromptBuilder prompts,
    ChatModels models,
    UserTurns turns,
    ChatImages chatImages,
    IClock clock,
    IOptions<RelayOptions> options,
    ILogger<DispatchPlanner> logger)
{
    public async Task<DispatchPlan> PlanAsync(IReadOnlyList<ClaimedRequest> claimed, HostPlacement placement,
        CancellationToken cancellationToken)
    {
        var plan = new DispatchPlan();
        var defaultModel = await models.DefaultAsync(cancellationToken);
        var now = clock.UtcNow;
        foreach (var (relayRequest, chat, history) in turns.InTurns(claimed))
        {
            if (chat is null)
            {
                relayRequest.Cancel(now);
                plan.ToStore.Add(relayRequest);
                continue;
            }

            await PlanAsync(plan, relayRequest, chat, history, placement, defaultModel, now, cancellationToken);
        }

        return plan;
    }

    /// <summary>
    /// The body to send <paramref name="relayRequest"/> with when a host of <paramref name="placement"/> takes it now —
    /// the request is then dispatched to it, not yet stored — or null when none does (it waits, is left to another
    /// process's hosts, or no host serves it), and the request is as it was: the one decision of
    /// <see cref="PlanAsync(IReadOnlyList{ClaimedRequest}, HostPlacement, CancellationToken)"/>, for a single request.
    /// </summary>
    public async Task<RequestBody?> PlaceAsync(RelayRequest relayRequest, Chat chat, IReadOnlyList<ChatTurn> history,
        HostPlacement placement, CancellationToken cancellationToken)
    {
        var plan = new DispatchPlan();
        await PlanAsync(plan, relayRequest, chat, history, placement, await models.DefaultAsync(cancellationToken),
            clock.UtcNow, cancellationToken);
        return plan.Outgoing is [var (_, body)] ? body : null;
    }

    private async Task PlanAsync(DispatchPlan plan, RelayRequest relayRequest, Chat chat, IReadOnlyList<ChatTurn> history,
        HostPlacement placement, string defaultModel, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var relay = options.Value;
        var prompt = await prompts.BuildAsync(relayRequest, chat, history, cancellationToken);
        var model = placement.RouteBy(prompt.Model, defaultModel);
        var tools = relayRequest.Options.Tools is not null;
        // The question's images need a host that takes them; the earlier turns' go to one when the model has such a
        // host (the request waits for it), else the chat goes on without them.
        var (shownTurns, dropped) = PromptImages.Fit(prompt.Turns, relay.MaxImagesPerRequest,
            relay.MaxImageBytesPerRequest, earlierTaken: placement.AnyServes(model, tools, images: true));
        if (dropped > 0)
        {
            LogImagesLeftOut(logger, relayRequest.Id.Value, dropped);
        }

        var pictured = shownTurns.Any(t => t.Images is { Count: > 0 });
        if (!placement.AnyServes(model, tools, pictured)
            && (placement.ServedElsewhere(model, tools, pictured) || placement.MayMissHostsElsewhere))
        {
            plan.LeftToOthers.Add(relayRequest);
            return;
        }

        if (!placement.AnyServes(model, tools, pictured))
        {
            plan.Unserved.Add((relayRequest.Id, model,
                tools && !placement.AnyServes(model, tools) ? "tools (function calling)"
                : pictured && placement.AnyServes(model) ? "images" : null));
            return;
        }

        if (placement.Take(model, tools, pictured) is not { } host)
        {
            plan.Waiting.Add((relayRequest, model));
            return;
        }

        relayRequest.Dispatch(now, relay.AckTimeout, relay.CompletionTimeout, host.WorkerId, model,
            placement.RunOf(host.WorkerId));
        turns.Served(relayRequest.UserId);
        plan.ToStore.Add(relayRequest);
        // The model routed by: null (the host's own default) for a default that no host lists by name, which a
        // host serving several models would otherwise refuse as one it does not serve.
        // The kept images go to the host as their bytes, sealed in the envelope with the rest of the prompt.
        var shown = await chatImages.InlineAsync(shownTurns, cancellationToken);
        plan.Outgoing.Add((relayRequest, new RequestBody(model, prompt.SystemPrompt,
            shown.Select(t => new TurnBody(MessageRoles.Name(t.Role), t.Content, t.ToolCalls.ToDtos(), t.ToolCallId)
            {
                Images = t.Images is { Count: > 0 } pictures ? [.. pictures.Select(p => p.DataUrl!)] : null,
            }).ToList(),
            prompt.Temperature, prompt.TopP, prompt.MaxTokens, prompt.Extras, host.WorkerId,
            AnswerStart: prompt.AnswerStart)));
    }

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Request {RequestId}: {Dropped} image(s) of earlier turns left out of its prompt (the oldest; see Relay:MaxImagesPerRequest, Relay:MaxImageBytesPerRequest, or a model host that takes no images)")]
    private static partial void LogImagesLeftOut(ILogger logger, Guid requestId, int dropped);
}
