using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// The chats' relay channels (<see cref="IRelayChatChannels"/>), kept apart from the chat so that an edit of the chat
/// and a channel assignment never overwrite each other.
/// </summary>
public abstract class RelayChatChannelsContract : ScopedDatabaseContract
{
    private async Task<(IRelayChatChannels Channels, Chat Chat)> ChatAsync()
    {
        var owner = await AddUserAsync(Services);
        return (Services.GetRequiredService<IRelayChatChannels>(), await AddSessionAsync(Services, owner));
    }

    [Test]
    public async Task TheFirstChannel_IsKept_TheSameAgainIsHarmless_AnotherDoesNotReplaceIt()
    {
        var (channels, chat) = await ChatAsync();

        Assert.That(await channels.FindAsync(chat.Id, None), Is.Null);
        Assert.That(await channels.AssignAsync(chat.Id, "123", None), Is.EqualTo("123"));
        Assert.That(await channels.AssignAsync(chat.Id, "123", None), Is.EqualTo("123"));
        Assert.That(await channels.AssignAsync(chat.Id, "456", None), Is.EqualTo("123"), "the chat holds its first channel");
        Assert.That(await channels.FindAsync(chat.Id, None), Is.EqualTo("123"));
    }

    [Test]
    public async Task ReleasingItsOwnChannel_LeavesTheChatWithout_SoAnotherCanBeAssigned_ReleasingAnotherKeepsIt()
    {
        var (channels, chat) = await ChatAsync();
        await channels.AssignAsync(chat.Id, "123", None);

        Assert.That(await channels.ReleaseAsync(chat.Id, "999", None), Is.False);
        Assert.That(await channels.FindAsync(chat.Id, None), Is.EqualTo("123"));
        Assert.That(await channels.ReleaseAsync(chat.Id, "123", None), Is.True);
        Assert.That(await channels.FindAsync(chat.Id, None), Is.Null);
        Assert.That(await channels.AssignAsync(chat.Id, "456", None), Is.EqualTo("456"));
    }

    [Test]
    public async Task AChatThatIsGone_HoldsNoChannel()
    {
        var (channels, chat) = await ChatAsync();
        await channels.AssignAsync(chat.Id, "123", None);
        await Services.GetRequiredService<IChatRepository>().DeleteAsync(chat.Id, None);

        Assert.That(await channels.FindAsync(chat.Id, None), Is.Null, "deleted with its chat");
        Assert.That(await channels.AssignAsync(chat.Id, "456", None), Is.Null, "nothing recorded for a chat that is gone");
        Assert.That(await channels.AssignAsync(ChatId.New(), "789", None), Is.Null);
    }

    [TestCase("")]
    [TestCase("  ")]
    public async Task ABlankChannelId_IsRefused(string channelId)
    {
        var (channels, chat) = await ChatAsync();

        Assert.That(() => channels.AssignAsync(chat.Id, channelId, None), Throws.ArgumentException);
    }

    [Test]
    public async Task ARename_SavedFromARead_BeforeTheChannelWasAssigned_KeepsBoth()
    {
        // The API reads the chat, the server bot assigns its channel, then the API saves the rename: with the channel a
        // column of the chat, that whole-row save wrote the channel back to none (a lost update).
        var owner = await AddUserAsync(Services);
        var chat = await AddSessionAsync(Services, owner);
        await using var api = Db.Scope();
        await using var bot = Db.Scope();
        var chats = api.ServiceProvider.GetRequiredService<IChatRepository>();
        var read = (await chats.GetAsync(chat.Id, None))!;

        await bot.ServiceProvider.GetRequiredService<IRelayChatChannels>().AssignAsync(chat.Id, "555", None);
        read.Rename(owner, ChatTitle.From("Renamed"), At(1));
        await chats.UpdateAsync(read, None);

        Assert.That((await chats.GetAsync(chat.Id, None))!.Title.Value, Is.EqualTo("Renamed"));
        Assert.That(await Services.GetRequiredService<IRelayChatChannels>().FindAsync(chat.Id, None), Is.EqualTo("555"));
    }

    [Test]
    public async Task RenamesAndChannelAssignments_RacingOnManyChats_AllKeepBoth()
    {
        var owner = await AddUserAsync(Services);
        var chats = new List<Chat>();
        for (var i = 0; i < 20; i++)
        {
            chats.Add(await AddSessionAsync(Services, owner));
        }

        await Task.WhenAll(chats.SelectMany((chat, i) => new[]
        {
            Task.Run(async () =>
            {
                await using var api = Db.Scope();
                var sessions = api.ServiceProvider.GetRequiredService<IChatRepository>();
                var read = (await sessions.GetAsync(chat.Id, None))!;
                read.Rename(owner, ChatTitle.From($"Renamed {i}"), At(1));
                await sessions.UpdateAsync(read, None);
                await sessions.GetAsync(chat.Id, None); // the save is sent with the next statement
            }),
            Task.Run(async () =>
            {
                await using var bot = Db.Scope();
                await bot.ServiceProvider.GetRequiredService<IRelayChatChannels>().AssignAsync(chat.Id, $"{700 + i}", None);
            }),
        }));

        var channels = Services.GetRequiredService<IRelayChatChannels>();
        var sessions = Services.GetRequiredService<IChatRepository>();
        for (var i = 0; i < chats.Count; i++)
        {
            Assert.That((await sessions.GetAsync(chats[i].Id, None))!.Title.Value, Is.EqualTo($"Renamed {i}"));
            Assert.That(await channels.FindAsync(chats[i].Id, None), Is.EqualTo($"{700 + i}"));
        }
    }
}
