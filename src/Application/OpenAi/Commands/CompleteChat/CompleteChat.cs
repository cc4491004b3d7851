using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.OpenAi.Commands;

/// <summary>One message of an OpenAI conversation: role system, developer, user or assistant, and its text.</summary>
public sealed record ConversationMessage(string Role, string Content);

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
public sealed record CompletionStarted(
    Guid SessionId, Guid RequestId, string Model, int MaxTokens, IChatEventSubscription Events);

public sealed class CompleteChatHandler(
    UserAccess access,
    IChatSessionRepository sessions,
    IMessageRepository messages,
    IChatReadModel reads,
    IUnitOfWork unitOfWork,
    IChatEvents events,
    IMediator mediator,
    ModelCatalog models,
    ModelHosts workers,
    IRateLimiter limiter,
    PlatformMetrics metrics,
    IClock clock,
    IOptions<InferenceOptions> inference,
    IOptions<OpenAiOptions> openAi) : IRequestHandler<CompleteChat, CompletionStarted>
{
    /// <summary>How many of the caller's chats ending with the same answer are compared in full.</summary>
    private const int Candidates = 5;

    /// <summary>
    /// How long a chat that keeps nothing may stand without a question under way before the sweep deletes it: far
    /// longer than the moment between its creation and its question being queued, which a crash may cut.
    /// </summary>
    public static readonly TimeSpan ForgetGrace = TimeSpan.FromMinutes(10);

    /// <summary>What a client that finds no model host is told to wait before trying again.</summary>
    public static readonly TimeSpan NoHostRetryAfter = TimeSpan.FromSeconds(10);

    public async Task<CompletionStarted> Handle(CompleteChat request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var (systemPrompt, turns) = Read(request.Messages);
        var sampling = SamplingParameters.Create(request.Temperature, request.TopP, request.MaxTokens);
        var asked = request.Options ?? GenerationOptions.None;
        CheckResponseFormat(asked.ResponseFormat, cancellationToken);

        var known = await models.ListAsync(cancellationToken);
        if (!known.Contains(request.Model, StringComparer.Ordinal))
        {
            throw NotFoundException.Model(request.Model, known);
        }

        if (!await workers.AnyAcceptsAsync(cancellationToken))
        {
            throw new ServiceUnavailableException("No model host is online to answer; try again shortly.",
                NoHostRetryAfter);
        }

        var store = request.Store ?? openAi.Value.StoreByDefault;
        var options = GenerationOptions.Create(asked.Stop, asked.Seed, asked.PresencePenalty, asked.FrequencyPenalty,
            asked.ResponseFormat, modelOnly: true, keepNothing: !store);
        var model = ModelName.From(request.Model);
        var earlier = turns[..^1];

        var chat = store ? await FindChatAsync(user, model, systemPrompt, earlier, cancellationToken) : null;
        var started = chat is null;
        if (started)
        {
            await TakeChatCreationAsync(user, cancellationToken);
        }

        try
        {
            chat ??= await StartChatAsync(user, model, systemPrompt, earlier, turns[^1].Content, keepNothing: !store,
                cancellationToken);
        }
        catch
        {
            await limiter.GiveBackAsync(RateLimitScope.ChatCreation, user.Id.ToString(), CancellationToken.None);
            throw;
        }

        IChatEventSubscription? followed = null;
        try
        {
            followed = await events.SubscribeAsync(chat.Id.Value, cancellationToken);
            var sent = await mediator.Send(
                new SendMessage(chat.Id.Value, turns[^1].Content, request.Temperature, request.TopP, request.MaxTokens)
                {
                    Options = options,
                    LimitsTaken = true,
                }, cancellationToken);
            var maxTokens = sampling.MaxTokens ?? chat.Sampling.MaxTokens ?? inference.Value.MaxTokens;
            return new CompletionStarted(chat.Id.Value, sent.RequestId, model.Value, maxTokens, followed);
        }
        catch
        {
            if (followed is not null)
            {
                await followed.DisposeAsync();
            }

            if (started)
            {
                // A refused question (the chat busy, the user banned meanwhile) or a caller gone before it was
                // queued leaves no chat behind, and the chat it did not keep is not counted. A crash here leaves one:
                // a chat that keeps nothing is then deleted by the sweep (ForgottenChatSweeper).
                await sessions.DeleteAsync(chat.Id, CancellationToken.None);
                await limiter.GiveBackAsync(RateLimitScope.ChatCreation, user.Id.ToString(), CancellationToken.None);
            }

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

    /// <summary>A new chat costs a token of the caller's chat-creation bucket, as one made in the web app does.</summary>
    private async Task TakeChatCreationAsync(User user, CancellationToken cancellationToken)
    {
        var decision = await limiter.TryAcquireAsync(RateLimitScope.ChatCreation, user.Id.ToString(), cancellationToken);
        if (!decision.Allowed)
        {
            const string scope = "chatcreation";
            metrics.Refused(scope);
            throw new RateLimitedException(decision.RetryAfter, scope);
        }
    }

    /// <summary>System and developer text become the system prompt; the rest are the turns, the last the question.</summary>
    private static (SystemPrompt? SystemPrompt, List<(MessageRole Role, string Content)> Turns) Read(
        IReadOnlyList<ConversationMessage>? conversation)
    {
        if (conversation is not { Count: > 0 })
        {
            throw new DomainException("'messages' holds at least one message.", DomainErrorKind.Invalid, "messages");
        }

        var system = new List<string>();
        var turns = new List<(MessageRole, string)>();
        for (var i = 0; i < conversation.Count; i++)
        {
            var (role, content) = conversation[i];
            switch (role)
            {
                case "system" or "developer":
                    system.Add(content);
                    break;
                case "user":
                    turns.Add((MessageRole.User, content));
                    break;
                case "assistant":
                    turns.Add((MessageRole.Assistant, content));
                    break;
                default:
                    throw new DomainException(
                        $"A message's role is system, developer, user or assistant, not '{role}'.",
                        DomainErrorKind.Invalid, $"messages[{i}].role");
            }
        }

        if (turns.Count == 0 || turns[^1].Item1 != MessageRole.User)
        {
            throw new DomainException("The last message (after any system text) is the user's: the question to answer.",
                DomainErrorKind.Invalid, "messages");
        }

        var question = turns[^1].Item2;
        if (string.IsNullOrWhiteSpace(question) || question.Length > PromptText.MaxLength)
        {
            throw new DomainException($"The question holds 1 to {PromptText.MaxLength} characters.",
                question.Length > PromptText.MaxLength ? DomainErrorKind.TooLarge : DomainErrorKind.Invalid,
                $"messages[{conversation.Count - 1}].content");
        }

        var prompt = system.Count == 0 ? null : string.Join("\n\n", system);
        if (prompt is { Length: > Domain.Common.SystemPrompt.MaxLength })
        {
            throw new DomainException(
                $"The system and developer messages hold at most {Domain.Common.SystemPrompt.MaxLength} characters together.",
                DomainErrorKind.Invalid, "messages");
        }

        return (Domain.Common.SystemPrompt.FromOptional(prompt), turns);
    }

    /// <summary>
    /// The caller's open chat with this model and system prompt whose messages are exactly
    /// <paramref name="earlier"/>; null when there is none (or nothing earlier: a first question starts a chat).
    /// </summary>
    private async Task<ChatSession?> FindChatAsync(User user, ModelName model, SystemPrompt? systemPrompt,
        IReadOnlyList<(MessageRole Role, string Content)> earlier, CancellationToken cancellationToken)
    {
        if (earlier.Count == 0 || earlier[^1].Role != MessageRole.Assistant)
        {
            return null;
        }

        foreach (var id in await reads.FindChatsEndingWithAsync(user.Id, earlier[^1].Content, Candidates, cancellationToken))
        {
            var chat = await sessions.GetAsync(id, cancellationToken);
            if (chat is null || chat.Model != model || chat.SystemPrompt != systemPrompt)
            {
                continue;
            }

            var stored = await reads.GetTranscriptAsync(id, cancellationToken);
            if (stored.Count == earlier.Count && stored.Zip(earlier).All(pair =>
                    pair.First.Role == RoleName(pair.Second.Role) && pair.First.Content == pair.Second.Content))
            {
                return chat;
            }
        }

        return null;
    }

    /// <summary>
    /// A new chat titled after the first question, holding the earlier messages, in one transaction; one that is to keep
    /// nothing is marked so (<see cref="IChatSessionRepository.ForgetAfterAsync"/>) in the same transaction.
    /// </summary>
    private async Task<ChatSession> StartChatAsync(User user, ModelName model, SystemPrompt? systemPrompt,
        IReadOnlyList<(MessageRole Role, string Content)> earlier, string question, bool keepNothing,
        CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        var firstQuestion = earlier.FirstOrDefault(t => t.Role == MessageRole.User).Content ?? question;
        var chat = ChatSession.Start(user, SessionTitle.FromQuestion(firstQuestion), model, systemPrompt, null, now);
        var turns = earlier.Select(t => chat.RecordEarlierTurn(user, t.Role, t.Content, now)).ToList();
        await unitOfWork.InTransactionAsync(async ct =>
        {
            await sessions.AddAsync(chat, ct);
            if (keepNothing)
            {
                await sessions.ForgetAfterAsync(chat.Id, now + ForgetGrace, ct);
            }

            foreach (var turn in turns)
            {
                await messages.AddAsync(turn, ct);
            }

            return true;
        }, cancellationToken);
        return chat;
    }

    private static string RoleName(MessageRole role) => role == MessageRole.User ? "user" : "assistant";
}
