using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Channels.Commands;
using MeatLizard.Application.Chats.Queries;
using MeatLizard.Application.Common.Models;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord.Chat;
using MeatLizard.Discord.Tests.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Chat;

/// <summary>The chat's slash commands and an admin's channels: /ask, /model, /help, /persona, /link.</summary>
public sealed partial class DiscordChatTests
{
    [Test]
    public async Task Ask_ShowsTheQuestionInPublic_AndTheAnswerIsAReplyToIt()
    {
        await StartAsync();

        await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "ask", Options(("prompt", "why the sand?")));

        FakeMessage? shown = null;
        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            (shown = Fake.Messages(_chat.Id).FirstOrDefault(m => m.Content.Contains("asked:", StringComparison.Ordinal))) is not null,
            Patience), Is.True, "the question is shown in the channel");
        Assert.That(shown!.Content, Does.EndWith("why the sand?"));
        Assert.That(await AnswerToAsync(shown), Is.EqualTo(new[] { "You said: why the sand?" }));
    }

    [Test]
    public async Task Ask_OutsideTheChatChannels_IsRefusedToTheMemberAlone()
    {
        await StartAsync();
        var elsewhere = Fake.CreateChannel("elsewhere");

        var interaction = await Fake.InvokeCommandAsync(Bots.ServerBot, elsewhere.Id, _alice, admin: false, "ask",
            Options(("prompt", "hello")));

        var answer = await InteractionAnswerAsync(interaction);
        Assert.That(answer["data"]!["content"]!.GetValue<string>(), Is.EqualTo(MeatLizard.Presentation.DiscordServer.Commands.DiscordAdminCommands.NotAChatChannel));
        Assert.That(answer["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64));
        Assert.That(Bots.Engine.Requests.Count, Is.Zero);
    }

    [Test]
    public async Task ModelAndHelp_AnswerTheMember_AndAnUnknownModelIsNamed()
    {
        await StartAsync();

        var unknown = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false,
            "model", Options(("name", "no-such-model"))));
        var help = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "help"));
        var status = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "status"));

        Assert.That(unknown["data"]!["content"]!.GetValue<string>(), Does.StartWith("There is no model named 'no-such-model'"));
        Assert.That(help["data"]!["content"]!.GetValue<string>(), Does.Contain("/reset").And.Contain("/ask"));
        Assert.That(status["data"]!["content"]!.GetValue<string>(), Does.Contain("1 model host(s) online"));
    }

    [Test]
    public async Task Persona_ListsThePersonas_AndTheChosenOneStartsTheMembersNextChat()
    {
        await StartAsync();
        string? systemPrompt = null;
        double? temperature = null;
        Bots.Engine.Reply = r =>
        {
            systemPrompt = r.SystemPrompt;
            temperature = r.Temperature;
            return "ok";
        };
        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            var admin = Domain.Users.User.Register(Domain.Common.Username.From("persona-admin"), "hash", DateTimeOffset.UtcNow,
                Domain.Users.UserRole.Admin);
            await scope.ServiceProvider.GetRequiredService<IPersonaRepository>().AddAsync(Domain.Personas.Persona.Create(
                admin, shared: true, Domain.Personas.PersonaName.From("Pirate"),
                Domain.Common.SystemPrompt.FromOptional("Talk like a pirate."), null, 1.2, DateTimeOffset.UtcNow), CancellationToken.None);
        }

        var listed = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "persona"));
        var unknown = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false,
            "persona", Options(("name", "Ninja"))));
        var chosen = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false,
            "persona", Options(("name", "pirate"))));
        Assert.That(listed["data"]!["content"]!.GetValue<string>(), Does.Contain("Personas: Pirate."));
        Assert.That(unknown["data"]!["content"]!.GetValue<string>(), Does.StartWith("There is no persona named 'Ninja'"));
        Assert.That(chosen["data"]!["content"]!.GetValue<string>(), Does.Contain("new chat as 'Pirate'"));

        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} ahoy?"));
        Assert.That(systemPrompt, Is.EqualTo("Talk like a pirate."), "the new chat starts with the persona's prompt");
        Assert.That(temperature, Is.EqualTo(1.2));

        var none = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false,
            "persona", Options(("name", "none"))));
        Assert.That(none["data"]!["content"]!.GetValue<string>(), Does.StartWith("No persona now"));
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} plain?"));
        Assert.That(systemPrompt, Is.Null, "no persona, no prompt");
    }

    [Test]
    public async Task AChannelAnAdminAdds_IsAnsweredIn_AndSilentAgainOnceRemoved()
    {
        await StartAsync(allowed: false);
        var admin = Fake.AddMember("admin");

        await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, admin, admin: true, "chat-channels",
            [new JsonObject { ["name"] = "add", ["type"] = 1, ["options"] = new JsonArray(new JsonObject { ["name"] = "channel", ["type"] = 7, ["value"] = _chat.Id }) }]));
        Assert.That(await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} now?")), Is.EqualTo(new[] { "You said: now?" }));

        await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, admin, admin: true, "chat-channels",
            [new JsonObject { ["name"] = "remove", ["type"] = 1, ["options"] = new JsonArray(new JsonObject { ["name"] = "channel", ["type"] = 7, ["value"] = _chat.Id }) }]));
        Fake.PostAsMember(_alice, _chat.Id, $"{Mention} still there?");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "silent once removed");
    }

    [Test]
    public async Task AMentionInAChannelAnAdminAdded_MeetingTheDatabaseAway_IsAnsweredOnce_WhenItIsBack()
    {
        // Whether the channel is allowed was read on the gateway loop: the settings it needs, read while the database
        // restarted, failed it, and the mention was dropped without a word (Discord never delivers it again).
        var armed = false;
        var failures = 2;
        Bots.ServerServices = services => OutageAt<IRuntimeSettings>.Replace(services, nameof(IRuntimeSettings.GetAsync),
            () => Volatile.Read(ref armed) && Interlocked.Decrement(ref failures) >= 0);
        await StartAsync(allowed: false);
        var admin = Fake.AddMember("admin");
        await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, admin, admin: true, "chat-channels",
            [new JsonObject { ["name"] = "add", ["type"] = 1, ["options"] = new JsonArray(new JsonObject { ["name"] = "channel", ["type"] = 7, ["value"] = _chat.Id }) }]));
        Volatile.Write(ref armed, true);

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} still with me?");

        Assert.That(await AnswerToAsync(question), Is.EqualTo(new[] { "You said: still with me?" }));
        Assert.That(failures, Is.LessThan(0), "both failures were met");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "asked of the model once");
    }

    [Test]
    public async Task ALinkedMember_ChatsAsTheirWebAccount_OnceConfirmed_AndTheCodeWorksOnce()
    {
        await StartAsync();
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} asked before the link"));
        var web = await Bots.SendAsync(new RegisterUser("webalice", "correct horse battery"));
        Bots.User.Id = new Domain.Common.UserId(web.Id);
        var code = await Bots.SendAsync(new CreateLinkCode());

        var named = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "link",
            Options(("code", code.Code.ToLowerInvariant()))));
        var confirm = Options(("code", code.Code.ToLowerInvariant()));
        confirm.Add(new JsonObject { ["name"] = "confirm", ["type"] = 5, ["value"] = true });
        var linked = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "link",
            confirm));
        var bob = Fake.AddMember("bob");
        var again = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, bob, admin: false, "link",
            Options(("code", code.Code))));
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} seen on the web?"));

        Assert.That(named["data"]!["content"]!.GetValue<string>(), Does.Contain("'webalice'").And.Contain("confirm:True"));
        Assert.That(named["data"]!["flags"]!.GetValue<int>() & 64, Is.EqualTo(64), "only the member sees the account named");
        Assert.That(linked["data"]!["content"]!.GetValue<string>(), Does.StartWith("Linked to 'webalice'"));
        Assert.That(again["data"]!["content"]!.GetValue<string>(), Does.Contain("unknown, used or expired"));
        var chats = await Bots.SendAsync(new ListChats());
        Assert.That(chats.Select(c => c.Title), Does.Contain("seen on the web?"), "the web account sees the Discord chat");
        Assert.That(chats.Select(c => c.Title), Does.Contain("asked before the link"), "and the one from before the link");
    }
}
