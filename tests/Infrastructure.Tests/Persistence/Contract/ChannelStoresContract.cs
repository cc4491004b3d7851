using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// Chat network members, the bot's posted messages and link codes (migrations 0019 and 0020), the same on every
/// provider. Member and message ids are the networks' own strings (Discord snowflakes).
/// </summary>
public abstract class ChannelStoresContract : DatabaseContract
{

    private const string Member = "1447000000000000123";

    private const string Channel = "1447000000000000500";

    [Test]
    public async Task AMember_BecomesOneUserOnFirstUse_AndTheSameOneAfterARestart()
    {
        var member = new ChannelMember("discord", Member, "Alice");
        UserId first;
        await using (var scope = Db.Scope())
        {
            var (user, identity) = await Members(scope.ServiceProvider).ResolveAsync(member, None);
            first = user.Id;
            Assert.That(user.Username.Value, Is.EqualTo("discord:" + Member));
            Assert.That(identity.UserId, Is.EqualTo(user.Id));
        }

        await using var restarted = Db.StartHost();
        await using var again = restarted.CreateAsyncScope();
        var (same, _) = await Members(again.ServiceProvider).ResolveAsync(member, None);
        Assert.That(same.Id, Is.EqualTo(first));
        Assert.That(same.Username.Value, Is.EqualTo("discord:" + Member), "the member's name reads back from storage");
    }

    private static ChannelMembers Members(IServiceProvider services) => new(
        services.GetRequiredService<IChannelIdentityStore>(), services.GetRequiredService<IUserRepository>(),
        services.GetRequiredService<IUnitOfWork>(), services.GetRequiredService<IClock>());

    [Test]
    public async Task AnIdentity_IsAddedOnce_AndKeepsItsPreferredModel()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var user = await PersistenceTestData.AddUserAsync(services);
        var store = services.GetRequiredService<IChannelIdentityStore>();

        Assert.That(await store.TryAddAsync(new ChannelIdentity("discord", Member, user.Id, null), None), Is.True);
        Assert.That(await store.TryAddAsync(new ChannelIdentity("discord", Member, user.Id, "other"), None), Is.False);
        await store.SetPreferredModelAsync("discord", Member, "tiny-model", None);

        Assert.That(await store.FindAsync("discord", Member, None),
            Is.EqualTo(new ChannelIdentity("discord", Member, user.Id, "tiny-model")));
        Assert.That(await store.FindAsync("telegram", Member, None), Is.Null, "another network's member");
    }

    [Test]
    public async Task AnIdentity_MovedToAWebUser_PointsThere()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var member = await PersistenceTestData.AddUserAsync(services);
        var web = await PersistenceTestData.AddUserAsync(services);
        var store = services.GetRequiredService<IChannelIdentityStore>();
        await store.TryAddAsync(new ChannelIdentity("discord", Member, member.Id, null), None);

        await store.MoveToUserAsync("discord", Member, web.Id, None);

        Assert.That((await store.FindAsync("discord", Member, None))!.UserId, Is.EqualTo(web.Id));
    }

    [Test]
    public async Task Linking_MovesTheMembersOwnChats_ButARelinkLeavesTheFirstAccountsChatsThere()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var users = services.GetRequiredService<IUserRepository>();
        var member = User.JoinFromChannel(Username.ForChannelMember("discord", Member), PersistenceTestData.T0);
        await users.AddAsync(member, None);
        var web = await PersistenceTestData.AddUserAsync(services);
        var other = await PersistenceTestData.AddUserAsync(services);
        var before = await PersistenceTestData.AddSessionAsync(services, member, title: "asked in Discord before the link");
        var websOwn = await PersistenceTestData.AddSessionAsync(services, web, title: "the web account's own");
        var bystander = await PersistenceTestData.AddSessionAsync(services, other, title: "someone else's");
        var store = services.GetRequiredService<IChannelIdentityStore>();
        var unitOfWork = services.GetRequiredService<IUnitOfWork>();
        await store.TryAddAsync(new ChannelIdentity("discord", Member, member.Id, null), None);

        await unitOfWork.InTransactionAsync(async ct =>
        {
            await store.MoveToUserAsync("discord", Member, web.Id, ct);
            return true;
        }, None);
        var chats = services.GetRequiredService<IChatRepository>();
        var afterLink = (await chats.GetAsync(before.Id, None))!.OwnerId;
        await store.MoveToUserAsync("discord", Member, other.Id, None); // linked again, to another account

        var owners = new List<UserId>();
        foreach (var chat in new[] { before, websOwn, bystander })
        {
            owners.Add((await chats.GetAsync(chat.Id, None))!.OwnerId);
        }

        var pointsTo = (await store.FindAsync("discord", Member, None))!.UserId;
        Assert.Multiple(() =>
        {
            Assert.That(afterLink, Is.EqualTo(web.Id), "the member's chat from before the link moved to the web account");
            Assert.That(owners, Is.EqualTo(new[] { web.Id, web.Id, other.Id }),
                "a relink leaves the first account's chats there; nobody else's chat moves");
            Assert.That(pointsTo, Is.EqualTo(other.Id));
        });
    }

    [Test]
    public async Task AQuestion_IsRecordedOnce_FollowsItsRequestAndReply_AndIsListedUntilAnswered()
    {
        var asked = DateTimeOffset.UtcNow.AddMinutes(-5);
        ChannelQuestion question;
        await using (var scope = Db.Scope())
        {
            var services = scope.ServiceProvider;
            var user = await PersistenceTestData.AddUserAsync(services);
            var chat = await PersistenceTestData.AddSessionAsync(services, user);
            var store = services.GetRequiredService<IChannelConversationStore>();
            question = new ChannelQuestion("discord", Channel, "1447000000000000700", Member, "1447000000000000001",
                chat.Id, null, null, asked, null);

            Assert.That(await store.TryAddQuestionAsync(question, None), Is.True);
            Assert.That(await store.TryAddQuestionAsync(question with { MemberId = "other" }, None), Is.False, "recorded once");
        }

        var requestId = Guid.NewGuid();
        await using (var restarted = Db.StartHost())
        await using (var scope = restarted.CreateAsyncScope())
        {
            var store = scope.ServiceProvider.GetRequiredService<IChannelConversationStore>();
            await store.SetQuestionRequestAsync("discord", Channel, question.MessageId, requestId, None);
            await store.SetQuestionReplyAsync("discord", Channel, question.MessageId, "1447000000000000701", None);
            await store.SetQuestionReplyAsync("discord", Channel, question.MessageId, "1447000000000000702", None); // the first stays

            var read = await store.FindQuestionAsync("discord", Channel, question.MessageId, None);
            Assert.That(read, Is.Not.Null);
            Assert.That(read!.AskedAt, Is.EqualTo(asked).Within(TimeSpan.FromMilliseconds(1)));
            Assert.That(read with { AskedAt = asked }, Is.EqualTo(question with
            {
                RequestId = requestId, ReplyMessageId = "1447000000000000701",
            }));
            Assert.That(await store.FindQuestionAsync("telegram", Channel, question.MessageId, None), Is.Null);
            Assert.That((await store.ListUnansweredQuestionsAsync("discord", asked.AddMinutes(-1), 10, None))
                .Select(q => q.MessageId), Is.EqualTo(new[] { question.MessageId }));
            Assert.That(await store.ListUnansweredQuestionsAsync("discord", asked.AddMinutes(1), 10, None), Is.Empty,
                "older than the window");
            Assert.That(await store.ListUnansweredQuestionsAsync("telegram", asked.AddMinutes(-1), 10, None), Is.Empty);

            await store.MarkQuestionAnsweredAsync("discord", Channel, question.MessageId, None);

            Assert.That((await store.FindQuestionAsync("discord", Channel, question.MessageId, None))!.AnsweredAt, Is.Not.Null);
            Assert.That(await store.ListUnansweredQuestionsAsync("discord", asked.AddMinutes(-1), 10, None), Is.Empty);
        }
    }

    [Test]
    public async Task APostedMessage_LeadsBackToItsChat_OnlyInItsOwnChannel()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var user = await PersistenceTestData.AddUserAsync(services);
        var chat = await PersistenceTestData.AddSessionAsync(services, user);
        var store = services.GetRequiredService<IChannelConversationStore>();

        await store.RememberPostedAsync("discord", Channel, "1447000000000000900", chat.Id, None);
        await store.RememberPostedAsync("discord", Channel, "1447000000000000900", chat.Id, None); // repeated: no error

        Assert.That(await store.FindByPostedMessageAsync("discord", Channel, "1447000000000000900", None), Is.EqualTo(chat.Id));
        Assert.That(await store.FindByPostedMessageAsync("discord", "999", "1447000000000000900", None), Is.Null);
        Assert.That(await store.FindByPostedMessageAsync("telegram", Channel, "1447000000000000900", None), Is.Null);
    }

    [Test]
    public async Task EveryPartOfAnAnswer_LeadsBackToTheAnswer_AndAMessageShowingNone_ToNothing()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var user = await PersistenceTestData.AddUserAsync(services);
        var chat = await PersistenceTestData.AddSessionAsync(services, user);
        var store = services.GetRequiredService<IChannelConversationStore>();
        var answer = new MessageId(Guid.NewGuid());
        foreach (var posted in new[] { "1447000000000000901", "1447000000000000902", "1447000000000000903" })
        {
            await store.RememberPostedAsync("discord", Channel, posted, chat.Id, None);
        }

        await store.SetPostedAnswerAsync("discord", Channel, ["1447000000000000901", "1447000000000000902"], answer, None);

        var expected = new PostedAnswer(chat.Id, answer);
        Assert.That(await store.FindPostedAnswerAsync("discord", Channel, "1447000000000000901", None), Is.EqualTo(expected));
        Assert.That(await store.FindPostedAnswerAsync("discord", Channel, "1447000000000000902", None), Is.EqualTo(expected));
        Assert.That(await store.FindPostedAnswerAsync("discord", Channel, "1447000000000000903", None), Is.Null, "a refusal, say");
        Assert.That(await store.FindPostedAnswerAsync("discord", "999", "1447000000000000901", None), Is.Null);
        Assert.That(await store.FindPostedAnswerAsync("telegram", Channel, "1447000000000000901", None), Is.Null);
    }

    [Test]
    public async Task AMembersCurrentChat_IsReplaced_AndForgottenOnReset()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var user = await PersistenceTestData.AddUserAsync(services);
        var first = await PersistenceTestData.AddSessionAsync(services, user);
        var second = await PersistenceTestData.AddSessionAsync(services, user);
        var store = services.GetRequiredService<IChannelConversationStore>();

        await store.SetCurrentAsync("telegram", "42", "42", first.Id, None);
        await store.SetCurrentAsync("telegram", "42", "42", second.Id, None);
        Assert.That(await store.FindCurrentAsync("telegram", "42", "42", None), Is.EqualTo(second.Id));

        await store.SetCurrentAsync("telegram", "42", "42", null, None);
        Assert.That(await store.FindCurrentAsync("telegram", "42", "42", None), Is.Null);
    }

    [Test]
    public async Task ALinkCode_IsTakenOnce_AndNotAfterItExpires()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var user = await PersistenceTestData.AddUserAsync(services);
        var codes = services.GetRequiredService<ILinkCodeStore>();
        var now = DateTimeOffset.UtcNow;
        await codes.AddAsync("hash-a", user.Id, now.AddMinutes(10), None);
        await codes.AddAsync("hash-b", user.Id, now.AddMinutes(10), None);

        Assert.That(await codes.TakeAsync("hash-a", now, None), Is.EqualTo(user.Id));
        Assert.That(await codes.TakeAsync("hash-a", now, None), Is.Null, "used");
        Assert.That(await codes.TakeAsync("hash-b", now.AddMinutes(11), None), Is.Null, "expired");
        Assert.That(await codes.TakeAsync("unknown", now, None), Is.Null);
    }

    [Test]
    public async Task OnlyTheHashOfALinkCode_IsStored()
    {
        await using (var scope = Db.Scope())
        {
            var services = scope.ServiceProvider;
            var user = await PersistenceTestData.AddUserAsync(services);
            await services.GetRequiredService<ILinkCodeStore>().AddAsync(
                Application.Channels.Commands.CreateLinkCodeHandler.Hash("ABCD-2345"), user.Id,
                DateTimeOffset.UtcNow.AddMinutes(5), None);
        }

        var stored = await Db.ScalarAsync<string>("SELECT code_hash FROM link_codes");
        Assert.That(stored, Does.Not.Contain("ABCD").And.Length.EqualTo(64));
        Assert.That(stored, Is.EqualTo(Application.Channels.Commands.CreateLinkCodeHandler.Hash("abcd 2345")),
            "typed without dash and in lower case it is the same code");
    }
}
