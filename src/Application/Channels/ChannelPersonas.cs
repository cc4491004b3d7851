using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Personas;

namespace MeatLizard.Application.Channels;

/// <summary>
/// <c>/persona</c> on every chat network: without a name it lists the personas the member may use (the shared ones and
/// their account's own); with one it chooses it for the member's new chats and starts over in this place, so the next
/// question begins a chat with the persona's system prompt, model and temperature; <c>/persona none</c> chooses none.
/// </summary>
public interface IChannelPersonas
{
    Task<string> ChooseAsync(ChannelMember member, ChannelPlace place, string? name, CancellationToken cancellationToken);
}

public sealed class ChannelPersonas(
    ChannelMembers members, IChannelIdentityStore identities, IChannelConversationStore conversations,
    IPersonaRepository personas) : IChannelPersonas
{
    public const string None = "none";

    public async Task<string> ChooseAsync(ChannelMember member, ChannelPlace place, string? name,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(place);
        var (user, identity) = await members.ResolveAsync(member, cancellationToken);
        var wanted = name?.Trim() ?? "";
        if (wanted.Length == 0)
        {
            return await ListAsync(user, identity, cancellationToken);
        }

        if (string.Equals(wanted, None, StringComparison.OrdinalIgnoreCase))
        {
            await SetAsync(member, place, null, cancellationToken);
            return "No persona now: your next question starts a plain new chat.";
        }

        if (await PersonaLookup.FindByNameAsync(personas, user, wanted, cancellationToken) is not { } persona)
        {
            return $"There is no persona named '{wanted}'. " + await ListAsync(user, identity, cancellationToken);
        }

        await SetAsync(member, place, persona.Id, cancellationToken);
        return $"Your next question starts a new chat as '{persona.Name.Value}'.";
    }

    private async Task SetAsync(ChannelMember member, ChannelPlace place, Domain.Common.PersonaId? persona,
        CancellationToken cancellationToken)
    {
        await identities.SetPersonaAsync(member.Network, member.Id, persona, cancellationToken);
        await conversations.SetCurrentAsync(member.Network, place.ChatId, member.Id, null, cancellationToken);
    }

    private async Task<string> ListAsync(Domain.Users.User user, ChannelIdentity identity,
        CancellationToken cancellationToken)
    {
        var visible = await personas.ListVisibleAsync(user.Id, cancellationToken);
        if (visible.Count == 0)
        {
            return "There are no personas yet: make one in the web app (Account, Personas).";
        }

        var names = visible.Select(p => p.Id == identity.PersonaId ? $"{p.Name.Value} (chosen)" : p.Name.Value);
        return $"Personas: {string.Join(", ", names)}. Choose one with /persona name, or /persona {None}.";
    }
}
