using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.OpenAi.Commands;

/// <summary>
/// An OpenAI chat completion: the whole conversation so far, of which the last message is the question. It goes into
/// a chat of the caller's like any send — the chat whose messages it repeats when there is one (a client sends the
/// whole history each time), else a new chat holding the earlier messages — and is relayed and answered like one. Only
/// the model answers it (<see cref="GenerationOptions.ModelOnly"/>); with <see cref="Store"/> false nothing of it is
/// kept once answered.
/// </summary>
/// <remarks>
/// The model-work tokens are taken before anything is compiled or written (it may write a chat and its whole history),
/// and given back when the completion is refused; a completion that starts a chat also takes a chat-creation token.
/// </remarks>
public sealed record CompleteChat(
    IReadOnlyList<ConversationMessage> Messages, string Model, double? Temperature = null, double? TopP = null,
    int? MaxTokens = null, GenerationOptions? Options = null, bool? Store = null)
    : IRequest<CompletionStarted>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    public bool OnlySuccessCounts => true;
}

/// <summary>
/// The queued question: its chat and request, the model and answer length it was asked with, and the chat's events,
/// followed since before it was queued (none is missed). Whoever receives it disposes <see cref="Events"/>.
/// </summary>
/// <summary>The question queued, followed by <paramref name="Events"/>; <paramref name="Cache"/>: see <see cref="Asked.CacheResult"/>.</summary>
public sealed record CompletionStarted(
    Guid ChatId, Guid RequestId, string Model, int MaxTokens, IChatEventSubscription Events, string? Cache = null);

public sealed class CompleteChatHandler(
    UserAccess access,
    IChatEvents events,
    Asking asking,
    ConversationChats conversations,
    ModelCatalog models,
    IOptions<InferenceOptions> inference,
    IOptions<OpenAiOptions> openAi) : IRequestHandler<CompleteChat, CompletionStarted>
{
    public async Task<CompletionStarted> Handle(CompleteChat request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var (systemPrompt, turns, sent) = CompletionTurns.Read(request.Messages);
        var sampling = SamplingParameters.Create(request.Temperature, request.TopP, request.MaxTokens);
        var asked = request.Options ?? GenerationOptions.None;
        CheckResponseFormat(asked.ResponseFormat, cancellationToken);
        if (asked.Tools is not null && asked.ResponseFormat is not null)
        {
            // llama.cpp constrains an answer by one grammar at a time: the tool calls' or the format's.
            throw new DomainException("A structured 'response_format' cannot be combined with 'tools' here; send one of them.",
                DomainErrorKind.Invalid, "response_format");
        }

        // Any image, the question's or an earlier turn's, needs a model that takes images: the first one is named.
        var firstImage = sent.SelectMany(i => i).FirstOrDefault();
        await models.RequireAnswerableAsync(request.Model, cancellationToken, tools: asked.Tools is not null,
            images: firstImage?.Param);

        var store = request.Store ?? openAi.Value.StoreByDefault;
        var options = GenerationOptions.Create(asked.Stop, asked.Seed, asked.PresencePenalty, asked.FrequencyPenalty,
            asked.ResponseFormat, modelOnly: true, keepNothing: !store, asked.Tools, asked.ToolChoice,
            asked.ParallelToolCalls);
        var model = ModelName.From(request.Model);
        // The question: the last message in words, or the tool results after the last answer's calls.
        var results = turns.Count - turns.FindLastIndex(t => t.Role != MessageRole.Tool) - 1;
        var earlier = turns[..^Math.Max(1, results)];
        var earlierImages = sent[..^Math.Max(1, results)];
        var pictures = results == 0 ? sent[^1] : [];

        ChatToAsk chat = (store
                ? await conversations.FindAsync(user, model, systemPrompt, earlier, earlierImages, cancellationToken)
                : null)
            is { } found
            ? new InChat(found)
            : new InNewChat(model, systemPrompt, earlier, KeepNothing: !store);

        // Followed from before the question is queued, so none of its events is missed. A chat that is new has no
        // events yet: its id is chosen first, so it is followed before it exists.
        var chatId = chat is InChat inChat ? inChat.Id : ChatId.New();
        if (chat is InNewChat wanted)
        {
            chat = wanted with { Id = chatId };
        }

        var followed = await events.SubscribeAsync(chatId.Value, cancellationToken);
        var kept = new List<MessageImage>();
        try
        {
            if (chat is InNewChat starting && earlierImages.Any(i => i.Count > 0))
            {
                // A new chat keeps the earlier turns' images as the question's, under it; a chat found already holds them.
                chat = starting with
                {
                    Earlier = await conversations.KeepEarlierImagesAsync(user, chatId, earlier, earlierImages, kept,
                        cancellationToken),
                };
            }

            var questionImages = await conversations.KeepImagesAsync(user, chatId, pictures, cancellationToken);
            kept.AddRange(questionImages);
            var question = results == 0
                ? new Question(chat, PromptText.From(turns[^1].Content), sampling, options, "send") { Images = questionImages }
                : new Question(chat, null, sampling, options, "send")
                {
                    ToolResults = [.. turns[^results..].Select(t => new ToolResult(t.ToolCallId!, t.Content))],
                };
            var queued = await asking.AskAsync(user, question, cancellationToken);
            var maxTokens = sampling.MaxTokens ?? queued.Chat.Sampling.MaxTokens ?? inference.Value.MaxTokens;
            return new CompletionStarted(queued.ChatId, queued.RequestId, model.Value, maxTokens, followed, queued.CacheResult);
        }
        catch
        {
            await conversations.ForgetImagesAsync(kept);
            await followed.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Compiles a <c>json_schema</c> response format to its grammar once, here: after the caller is known and its limits
    /// are taken, before anything is written. The compilation is bounded (<see cref="JsonSchemaGrammar"/>) and stops
    /// when the caller leaves.
    /// </summary>
    private static void CheckResponseFormat(string? responseFormat, CancellationToken cancellationToken)
    {
        if (responseFormat is null)
        {
            return;
        }

        try
        {
            JsonSchemaGrammar.ForResponseFormat(responseFormat, cancellationToken);
        }
        catch (JsonSchemaNotSupportedException refused)
        {
            throw new DomainException(refused.Message, DomainErrorKind.Invalid, "response_format.json_schema.schema");
        }
    }
}
