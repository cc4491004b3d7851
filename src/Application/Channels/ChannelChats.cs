using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Channels;

/// <summary>Which chat a chat network's question goes on in, or the one it starts (<see cref="NewChats"/>).</summary>
public sealed class ChannelChats(
    IChannelConversationStore conversations, IChatRepository chats, IRuntimeSettings settings, NewChats newChats,
    IPersonaRepository personas)
{
    /// <summary>
    /// The chat this message continues: the one of the bot's answer it replies to, else in a private chat the member's
    /// current one; null when it starts a new chat (a new mention). A chat that is closed, or another member's, is
    /// not continued.
    /// </summary>
    public async Task<ChatId?> FindAsync(string network, User user, IncomingChannelMessage message,
        CancellationToken cancellationToken)
    {
        var found = message.ReplyToMessageId is { } replyTo
            ? await conversations.FindByPostedMessageAsync(network, message.Place.ChatId, replyTo, cancellationToken)
            : message.Place.IsPrivate
                ? await conversations.FindCurrentAsync(network, message.Place.ChatId, message.Author.Id, cancellationToken)
                : null;
        if (found is not { } id)
        {
            return null;
        }

        var chat = await chats.GetAsync(id, cancellationToken);
        return chat is not null && chat.IsVisibleTo(user) && !chat.IsClosed ? id : null;
    }

    /// <summary>
    /// A new chat of the member's for this question, with the model of <see cref="Common.ChatModels.ForNewChat"/> and the
    /// persona the member chose (<c>/persona</c>: its system prompt, model and temperature), titled after the question
    /// and stored (costing a chat-creation token).
    /// </summary>
    public async Task<Chat> StartAsync(string network, User user, ChannelIdentity identity,
        IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(identity);
        var channelModel = await settings.GetAsync(ChannelSettingKeys.ChannelModel(network, message.Place.ChatId),
            cancellationToken);
        var persona = identity.PersonaId is { } chosen ? await personas.GetAsync(chosen, cancellationToken) : null;
        if (persona is not null && !persona.IsVisibleTo(user))
        {
            persona = null; // chosen before the member was linked to another account
        }

        var model = Common.ChatModels.ForNewChat(persona?.Model?.Value, identity.PreferredModel,
            user.Preferences.DefaultModel?.Value, channelModel);
        var wanted = new InNewChat(ModelName.FromOptional(model), persona?.SystemPrompt, Sampling: persona?.Sampling);
        var chat = newChats.Prepare(user, wanted, PromptText.From(message.Text));
        await newChats.StoreAsync(user, chat, wanted, cancellationToken);
        return chat;
    }

    /// <summary>Takes back a chat started for a question that was then refused, or answered by another handling.</summary>
    public Task TakeBackAsync(User user, Chat started) => newChats.TakeBackAsync(user, started);
}
