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
using MeatLizard.Domain.Sessions;
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
    Guid SessionId, Guid RequestId, string Model, int MaxTokens, IChatEventSubscription Events, string? Cache = null);

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
        var (systemPrompt, turns, sent) = Read(request.Messages);
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
        var chatId = chat is InChat inChat ? inChat.Id : SessionId.New();
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

    /// <summary>
    /// System and developer text become the system prompt; the rest are the turns, the last the question: the user's
    /// words, or the results of the calls the answer before them asked for (each tool message answers one of them).
    /// <c>Images</c>: each turn's images as sent, in the turns' order (none but a user's).
    /// </summary>
    private static (SystemPrompt? SystemPrompt, List<EarlierTurn> Turns, List<IReadOnlyList<ImageInput>> Images) Read(
        IReadOnlyList<ConversationMessage>? conversation)
    {
        if (conversation is not { Count: > 0 })
        {
            throw new DomainException("'messages' holds at least one message.", DomainErrorKind.Invalid, "messages");
        }

        var system = new List<string>();
        var turns = new List<EarlierTurn>();
        var images = new List<IReadOnlyList<ImageInput>>();
        IReadOnlyList<ToolCall> calls = [];
        for (var i = 0; i < conversation.Count; i++)
        {
            var (role, content, toolCalls, toolCallId) = conversation[i];
            switch (role)
            {
                case "system" or "developer":
                    system.Add(content);
                    break;
                case "user":
                    if (i < conversation.Count - 1)
                    {
                        RequireWords(content, i);
                    }

                    turns.Add(new EarlierTurn(MessageRole.User, content));
                    images.Add(conversation[i].Images);
                    calls = [];
                    break;
                case "assistant":
                    calls = toolCalls ?? [];
                    turns.Add(new EarlierTurn(MessageRole.Assistant, content, calls));
                    images.Add([]);
                    break;
                case "tool":
                    if (!calls.Any(c => c.Id == toolCallId))
                    {
                        throw new DomainException(
                            "A tool message answers a tool call of the assistant message before it: its 'tool_call_id' names one.",
                            DomainErrorKind.Invalid, $"messages[{i}].tool_call_id");
                    }

                    turns.Add(new EarlierTurn(MessageRole.Tool, content, ToolCallId: toolCallId));
                    images.Add([]);
                    break;
                default:
                    throw new DomainException(
                        $"A message's role is system, developer, user, assistant or tool, not '{role}'.",
                        DomainErrorKind.Invalid, $"messages[{i}].role");
            }
        }

        if (turns.Count == 0 || turns[^1].Role is not (MessageRole.User or MessageRole.Tool))
        {
            throw new DomainException(
                "The last message (after any system text) is the user's, or a tool's result: the question to answer.",
                DomainErrorKind.Invalid, "messages");
        }

        if (turns[^1].Role == MessageRole.User)
        {
            RequireWords(turns[^1].Content, conversation.Count - 1, "The question");
        }

        var prompt = system.Count == 0 ? null : string.Join("\n\n", system);
        if (prompt is { Length: > Domain.Common.SystemPrompt.MaxLength })
        {
            throw new DomainException(
                $"The system and developer messages hold at most {Domain.Common.SystemPrompt.MaxLength} characters together.",
                DomainErrorKind.Invalid, "messages");
        }

        return (Domain.Common.SystemPrompt.FromOptional(prompt), turns, images);
    }

    /// <summary>A user's message (<c>messages[i]</c>) holds words, within a message's length: an image alone is no message here.</summary>
    private static void RequireWords(string content, int i, string what = "A user's message")
    {
        if (string.IsNullOrWhiteSpace(content) || content.Length > PromptText.MaxLength)
        {
            throw new DomainException($"{what} holds 1 to {PromptText.MaxLength} characters.",
                content.Length > PromptText.MaxLength ? DomainErrorKind.TooLarge : DomainErrorKind.Invalid,
                $"messages[{i}].content");
        }
    }
}
