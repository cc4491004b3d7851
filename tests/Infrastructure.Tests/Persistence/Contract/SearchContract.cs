using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Search;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// Full-text search over a user's chats (titles) and messages, the same on every provider: kept in step by the writes
/// that store, rename and remove, ranked, snippets with the matched words, paging, and any text taken as plain words.
/// </summary>
public abstract class SearchContract : ScopedDatabaseContract
{
    private IChatSearch _search = null!;
    private User _owner = null!;

    [SetUp]
    public async Task SetUp()
    {
        _search = Services.GetRequiredService<IChatSearch>();
        _owner = await AddUserAsync(Services);
    }

    private Task<IReadOnlyList<SearchMatch>> SearchAsync(string text, int skip = 0, int take = 20, User? owner = null) =>
        _search.SearchAsync((owner ?? _owner).Id, SearchWords.From(text), skip, take, None);

    [Test]
    public async Task AMessage_IsFoundByWordsOfIt_InAnyCase_WithItsChatAndText()
    {
        var chat = await AddSessionAsync(Services, _owner, title: "Trip plans");
        await AddMessageAsync(Services, chat, MessageSource.User, "Where do desert lizards sleep at night?", At(1));
        var answer = await AddMessageAsync(Services, chat, MessageSource.Model, "Desert LIZARDS burrow into the sand.", At(2));
        await AddMessageAsync(Services, chat, MessageSource.User, "Thanks!", At(3));

        var hits = await SearchAsync("lizards burrow");

        Assert.That(hits, Has.Count.EqualTo(1));
        var hit = hits[0];
        Assert.Multiple(() =>
        {
            Assert.That(hit.ChatId, Is.EqualTo(chat.Id.Value));
            Assert.That(hit.Title, Is.EqualTo("Trip plans"));
            Assert.That(hit.MessageId, Is.EqualTo(answer.Id.Value));
            Assert.That(hit.Role, Is.EqualTo("assistant"));
            Assert.That(hit.CreatedAt, Is.EqualTo(At(2)));
            Assert.That(hit.Text, Is.EqualTo("Desert LIZARDS burrow into the sand."));
        });
    }

    [Test]
    public async Task AnotherUsersChatsAndMessages_AreNeverFound()
    {
        var stranger = await AddUserAsync(Services);
        var theirs = await AddSessionAsync(Services, stranger, title: "secret gecko");
        await AddMessageAsync(Services, theirs, MessageSource.User, "secret gecko notes", At(1));
        var mine = await AddSessionAsync(Services, _owner, title: "mine");
        await AddMessageAsync(Services, mine, MessageSource.User, "a gecko of my own", At(2));

        var hits = await SearchAsync("gecko");

        Assert.That(hits.Select(h => h.ChatId), Is.EqualTo(new[] { mine.Id.Value }));
        Assert.That(await SearchAsync("secret"), Is.Empty);
        Assert.That((await SearchAsync("secret", owner: stranger)).Select(h => h.ChatId).Distinct(),
            Is.EqualTo(new[] { theirs.Id.Value }));
    }

    [Test]
    public async Task AChat_IsFoundByItsTitle_AndARenameIsFollowed()
    {
        var chat = await AddSessionAsync(Services, _owner, title: "Sourdough starter");
        await AddMessageAsync(Services, chat, MessageSource.User, "flour and water", At(1));

        var byTitle = await SearchAsync("sourdough");
        Assert.That(byTitle, Has.Count.EqualTo(1));
        Assert.That(byTitle[0].MessageId, Is.Null, "the chat itself matched");
        Assert.That(byTitle[0].Text, Is.EqualTo("Sourdough starter"));

        chat.Rename(_owner, ChatTitle.From("Rye bread"), At(5));
        await Services.GetRequiredService<IChatRepository>().UpdateAsync(chat, None);

        Assert.That(await SearchAsync("sourdough"), Is.Empty);
        Assert.That((await SearchAsync("rye")).Select(h => (h.ChatId, h.Title)), Is.EqualTo(new[] { (chat.Id.Value, "Rye bread") }));
        Assert.That((await SearchAsync("flour")).Single().Title, Is.EqualTo("Rye bread"), "a message's hit names the chat as it is now");
    }

    [Test]
    public async Task ForgottenChats_AreNotFoundAnyMore_AndOtherVersionsAre()
    {
        var chat = await AddSessionAsync(Services, _owner, title: "kept");
        var first = await AddMessageAsync(Services, chat, MessageSource.User, "an iguana question", At(1));
        var answer = await AddMessageAsync(Services, chat, MessageSource.Model, "an iguana answer", At(2));
        var gone = await AddSessionAsync(Services, _owner, title: "forgotten iguana");
        await AddMessageAsync(Services, gone, MessageSource.User, "iguana once more", At(3));
        await Services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            // The answer regenerated: it leaves the chat's path but stays in the chat, and in its search.
            var trees = Services.GetRequiredService<IChatTree>();
            await trees.MoveAsync(chat.Id, (await trees.GetLockedAsync(chat.Id, ct)).AnswerAgain().Change, ct);
            return true;
        }, None);

        await Services.GetRequiredService<IChatRepository>().DeleteAsync(gone.Id, None);

        var hits = await SearchAsync("iguana");
        Assert.That(hits.Select(h => h.MessageId), Is.EquivalentTo(new Guid?[] { first.Id.Value, answer.Id.Value }));
    }

    [Test]
    public async Task Results_AreRankedByHowWellTheyMatch()
    {
        var chat = await AddSessionAsync(Services, _owner, title: "notes");
        var once = await AddMessageAsync(Services, chat, MessageSource.User,
            "Skinks are one kind among many small reptiles people keep, along with geckos, anoles and others too.", At(1));
        var often = await AddMessageAsync(Services, chat, MessageSource.Model, "Skinks, skinks and more skinks.", At(2));

        var hits = await SearchAsync("skinks");

        Assert.That(hits.Select(h => h.MessageId), Is.EqualTo(new Guid?[] { often.Id.Value, once.Id.Value }));
        Assert.That(hits[0].Rank, Is.GreaterThan(hits[1].Rank));
    }

    [Test]
    public async Task Pages_CoverEveryMatchOnce()
    {
        var chat = await AddSessionAsync(Services, _owner, title: "many");
        var stored = new List<Guid>();
        for (var i = 0; i < 7; i++)
        {
            stored.Add((await AddMessageAsync(Services, chat, MessageSource.User, $"chameleon number {i}", At(i))).Id.Value);
        }

        var seen = new List<Guid?>();
        for (var skip = 0; skip < 9; skip += 3)
        {
            seen.AddRange((await SearchAsync("chameleon", skip, 3)).Select(h => h.MessageId));
        }

        Assert.That(seen, Is.EquivalentTo(stored.Cast<Guid?>()));
        Assert.That((await SearchAsync("chameleon", 0, 3)).Select(h => h.MessageId),
            Is.EqualTo(stored.AsEnumerable().Reverse().Take(3).Cast<Guid?>()), "equal ranks: the newest first");
    }

    [TestCase("\"quoted")]
    [TestCase("star*")]
    [TestCase("NEAR(tokay sticky, 2)")]
    [TestCase("-minus")]
    [TestCase("col:umn")]
    [TestCase("tokay OR sticky")]
    [TestCase("tokay AND NOT")]
    [TestCase("(unbalanced")]
    [TestCase("^caret' \\back; DROP TABLE messages;--")]
    [TestCase("{curly} [square] @at #hash $dollar %pct &amp | pipe ~tilde")]
    [TestCase("\u0000nul \uE000marker\uE001")]
    public async Task HostileText_IsSearchedAsPlainWords(string text)
    {
        var chat = await AddSessionAsync(Services, _owner, title: "hostile");
        var all = string.Join(' ', SearchWords.From(text).Words);
        var holding = await AddMessageAsync(Services, chat, MessageSource.User, $"it says: {all} and more", At(1));
        await AddMessageAsync(Services, chat, MessageSource.User, "nothing of that here", At(2));

        var hits = await SearchAsync(text);

        Assert.That(hits.Select(h => h.MessageId), Is.EqualTo(new Guid?[] { holding.Id.Value }),
            "the message holding every word, and only it");
    }

    [TestCase("<script>alert(1)</script>", "script")]
    [TestCase("write to ada@example.com today", "example")]
    [TestCase("pi is 3.14 roughly", "14")]
    [TestCase("the e-mail came", "mail")]
    [TestCase("see https://lizards.example/care?x=1", "care")]
    [TestCase("snake_case_name", "case")]
    public async Task WordsInsideMarkupAddressesAndNumbers_AreFound(string content, string word)
    {
        var chat = await AddSessionAsync(Services, _owner, title: "markup");
        var holding = await AddMessageAsync(Services, chat, MessageSource.User, content, At(1));

        Assert.That((await SearchAsync(word)).Select(h => h.MessageId), Is.EqualTo(new Guid?[] { holding.Id.Value }));
    }

    [Test]
    public async Task OperatorWords_AreWordsLikeAnyOther()
    {
        var chat = await AddSessionAsync(Services, _owner, title: "words");
        var near = await AddMessageAsync(Services, chat, MessageSource.User, "the house near the river", At(1));
        await AddMessageAsync(Services, chat, MessageSource.User, "the house by the river", At(2));

        Assert.That((await SearchAsync("NEAR")).Select(h => h.MessageId), Is.EqualTo(new Guid?[] { near.Id.Value }));
        Assert.That((await SearchAsync("house OR boat")).Select(h => h.MessageId), Is.Empty,
            "OR is a word here, and neither message holds 'or' and 'boat'");
    }
}
