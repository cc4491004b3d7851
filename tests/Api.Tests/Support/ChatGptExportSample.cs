namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// A small ChatGPT export (conversations.json) made by hand: its first question was edited in ChatGPT, so the question
/// has two versions (siblings under the hidden root), each answered; the current node is the newer answer. The newer
/// answer also holds an image part, and a system message carries custom instructions.
/// </summary>
public static class ChatGptExportSample
{
    public const string Title = "Gecko facts";

    public const string OlderQuestion = "Are geckos lizards?";

    public const string OlderAnswer = "Yes, small ones.";

    public const string NewerQuestion = "Are geckos reptiles?";

    public const string NewerAnswer = "Yes, all of them.";

    /// <summary>The export, its conversation named <paramref name="id"/>.</summary>
    public static string Json(string id = "sample-1") => $$"""
        [{
          "id": "{{id}}", "title": "{{Title}}", "create_time": 1710000000, "update_time": 1710000600,
          "current_node": "n-a2",
          "mapping": {
            "n-root": { "message": null, "parent": null, "children": ["n-sys"] },
            "n-sys": { "parent": "n-root", "children": ["n-q1", "n-q2"],
                       "message": { "author": { "role": "system" }, "content": { "content_type": "text", "parts": ["Be brief."] } } },
            "n-q1": { "parent": "n-sys", "children": ["n-a1"],
                      "message": { "author": { "role": "user" }, "create_time": 1710000100,
                                   "content": { "content_type": "text", "parts": ["{{OlderQuestion}}"] } } },
            "n-a1": { "parent": "n-q1", "children": [],
                      "message": { "author": { "role": "assistant" }, "create_time": 1710000200,
                                   "content": { "content_type": "text", "parts": ["{{OlderAnswer}}"] } } },
            "n-q2": { "parent": "n-sys", "children": ["n-a2"],
                      "message": { "author": { "role": "user" }, "create_time": 1710000300,
                                   "content": { "content_type": "text", "parts": ["{{NewerQuestion}}"] } } },
            "n-a2": { "parent": "n-q2", "children": [],
                      "message": { "author": { "role": "assistant" }, "create_time": 1710000400,
                                   "content": { "content_type": "multimodal_text",
                                                "parts": ["{{NewerAnswer}}", { "content_type": "image_asset_pointer" }] } } }
          }
        }]
        """;
}
