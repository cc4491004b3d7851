using System.Text;
using MeatLizard.Application.Imports;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Imports;

/// <summary>Reading ChatGPT's conversations.json and MeatLizard's own export into conversations to store.</summary>
public class ChatGptExportTests
{
    /// <summary>
    /// A hand-made ChatGPT export: a hidden system root, a question and its answer, then the second question edited in
    /// ChatGPT (two versions, siblings under the first answer), the newer answered with text and an image, a code run
    /// and a tool's output, and a last answer; the current node is that last answer.
    /// </summary>
    public const string Export = """
        [{
          "title": "Geckos", "create_time": 1700000000.5, "update_time": 1700000900.0,
          "conversation_id": "conv-1", "current_node": "a3",
          "mapping": {
            "root": { "id": "root", "message": null, "parent": null, "children": ["sys"] },
            "sys": { "id": "sys", "parent": "root", "children": ["u1"],
                     "message": { "author": { "role": "system" }, "content": { "content_type": "text", "parts": [""] } } },
            "u1": { "id": "u1", "parent": "sys", "children": ["a1"],
                    "message": { "author": { "role": "user" }, "create_time": 1700000010,
                                 "content": { "content_type": "text", "parts": ["What is a gecko?"] } } },
            "a1": { "id": "a1", "parent": "u1", "children": ["u2a", "u2b"],
                    "message": { "author": { "role": "assistant" }, "create_time": 1700000020,
                                 "content": { "content_type": "text", "parts": ["A lizard."] } } },
            "u2a": { "id": "u2a", "parent": "a1", "children": ["a2a"],
                     "message": { "author": { "role": "user" }, "create_time": 1700000030,
                                  "content": { "content_type": "text", "parts": ["Do they bite?"] } } },
            "a2a": { "id": "a2a", "parent": "u2a", "children": [],
                     "message": { "author": { "role": "assistant" }, "create_time": 1700000040,
                                  "content": { "content_type": "text", "parts": ["Rarely."] } } },
            "u2b": { "id": "u2b", "parent": "a1", "children": ["a2b"],
                     "message": { "author": { "role": "user" }, "create_time": 1700000050,
                                  "content": { "content_type": "text", "parts": ["Do they climb?"] } } },
            "a2b": { "id": "a2b", "parent": "u2b", "children": ["code"],
                     "message": { "author": { "role": "assistant" }, "create_time": 1700000060,
                                  "content": { "content_type": "multimodal_text",
                                               "parts": ["They climb glass.", { "content_type": "image_asset_pointer", "asset_pointer": "file-service://x" }] } } },
            "code": { "id": "code", "parent": "a2b", "children": ["tool"],
                      "message": { "author": { "role": "assistant" }, "content": { "content_type": "code", "text": "print(1)" } } },
            "tool": { "id": "tool", "parent": "code", "children": ["a3"],
                      "message": { "author": { "role": "tool" }, "content": { "content_type": "execution_output", "text": "1" } } },
            "a3": { "id": "a3", "parent": "tool", "children": [],
                    "message": { "author": { "role": "assistant" }, "create_time": 1700000070,
                                 "content": { "content_type": "text", "parts": ["Done."] } } }
          }
        }]
        """;

    [Test]
    public void ABranchedConversation_KeepsBothVersions_AndItsCurrentPath()
    {
        var file = ImportChatsHandler.Read(Encoding.UTF8.GetBytes(Export));

        Assert.That(file.Format, Is.EqualTo("chatgpt"));
        var conversation = file.Conversations.Single();
        Assert.That(conversation.Key, Is.EqualTo("chatgpt:conv-1"));
        Assert.That(conversation.Title, Is.EqualTo("Geckos"));
        Assert.That(conversation.CreatedAt, Is.EqualTo(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_500)));
        Assert.That(conversation.Turns.Select(t => (t.Id, t.ParentId, t.Role, t.Content)), Is.EqualTo(new (string, string?, MessageRole, string)[]
        {
            ("u1", null, MessageRole.User, "What is a gecko?"),
            ("a1", "u1", MessageRole.Assistant, "A lizard."),
            ("u2a", "a1", MessageRole.User, "Do they bite?"),
            ("a2a", "u2a", MessageRole.Assistant, "Rarely."),
            ("u2b", "a1", MessageRole.User, "Do they climb?"),
            ("a2b", "u2b", MessageRole.Assistant, "They climb glass."),
            ("a3", "a2b", MessageRole.Assistant, "Done."),
        }), "parents first, the edited question's versions both under the first answer, skipped messages bridged");
        Assert.That(conversation.Path, Is.EquivalentTo(new[] { "u1", "a1", "u2b", "a2b", "a3" }));
        Assert.That(conversation.Turns[1].CreatedAt, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_700_000_020)));
        Assert.That(conversation.Notes, Is.EquivalentTo(new[]
        {
            "1 image part skipped", "1 assistant message skipped (content type code)", "1 tool message skipped",
        }), "the hidden empty system root is left out without a note");
    }

    [Test]
    public void WithoutACurrentNode_ThePathTakesTheNewestVersionAtEachTurn()
    {
        var file = ImportChatsHandler.Read(Encoding.UTF8.GetBytes(Export.Replace("\"current_node\": \"a3\",", "")));

        Assert.That(file.Conversations.Single().Path, Is.EquivalentTo(new[] { "u1", "a1", "u2b", "a2b", "a3" }));
    }

    [Test]
    public void ACurrentNodeOnTheOlderVersion_MakesThatVersionThePath()
    {
        var file = ImportChatsHandler.Read(Encoding.UTF8.GetBytes(Export.Replace("\"current_node\": \"a3\"", "\"current_node\": \"a2a\"")));

        Assert.That(file.Conversations.Single().Path, Is.EquivalentTo(new[] { "u1", "a1", "u2a", "a2a" }));
    }

    [Test]
    public void AConversationWithoutAMapping_IsUnreadable_AndTheOthersStillRead()
    {
        var file = ImportChatsHandler.Read(Encoding.UTF8.GetBytes(
            "[" + Export.Trim()[1..^1] + """, { "title": "broken", "mapping": 7 }]"""));

        Assert.That(file.Conversations, Has.Count.EqualTo(2));
        Assert.That(file.Conversations[0].Problem, Is.Null);
        Assert.That(file.Conversations[1].Problem, Does.Contain("mapping"));
    }

    [TestCase("not json", "not valid JSON")]
    [TestCase("{\"hello\": 1}", "neither")]
    public void AFileThatIsNoExport_IsRefused_NamingTheFile(string text, string says)
    {
        var refused = Assert.Throws<DomainException>(() => ImportChatsHandler.Read(Encoding.UTF8.GetBytes(text)));

        Assert.That(refused!.Field, Is.EqualTo("file"));
        Assert.That(refused.Message, Does.Contain(says));
    }

    [Test]
    public void AMeatLizardTranscriptOfTheWholeTree_KeepsItsVersions_AndShowsTheNewest()
    {
        const string transcript = """
            { "session": { "id": "11111111-1111-1111-1111-111111111111", "title": "Trip", "createdAt": "2026-01-01T10:00:00Z" },
              "messages": [
                { "id": "m1", "role": "user", "content": "Where to?", "source": "user", "createdAt": "2026-01-01T10:00:01Z" },
                { "id": "m2", "parentId": "m1", "role": "assistant", "content": "Rome.", "source": "model", "createdAt": "2026-01-01T10:00:02Z" },
                { "id": "m3", "parentId": "m1", "role": "assistant", "content": "Oslo.", "source": "model", "createdAt": "2026-01-01T10:00:03Z" },
                { "id": "m4", "parentId": "m3", "role": "assistant", "content": "The model is offline.", "source": "notice", "createdAt": "2026-01-01T10:00:04Z" }
              ] }
            """;

        var conversation = ImportChatsHandler.Read(Encoding.UTF8.GetBytes(transcript)).Conversations.Single();

        Assert.That(conversation.Key, Is.EqualTo("meatlizard:11111111-1111-1111-1111-111111111111"));
        Assert.That(conversation.Turns.Select(t => (t.Id, t.ParentId)), Is.EqualTo(new (string, string?)[] { ("m1", null), ("m2", "m1"), ("m3", "m1") }));
        Assert.That(conversation.Path, Is.EquivalentTo(new[] { "m1", "m3" }));
        Assert.That(conversation.Notes, Is.EqualTo(new[] { "1 notice message skipped" }));
    }
}
