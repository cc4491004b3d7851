using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Imports;

/// <summary>
/// Imports the chats of an export file — ChatGPT's <c>conversations.json</c> (<see cref="ChatGptExport"/>) or
/// MeatLizard's own JSON export (<see cref="MeatLizardExport"/>) — as the caller's, each conversation on its own
/// (<see cref="ChatImportWriter"/>): a bad one is reported and the others still come in; one imported before is skipped.
/// The file's size is capped by the host (<see cref="ImportOptions.MaxBytes"/>).
/// </summary>
public sealed record ImportChats(ReadOnlyMemory<byte> File) : IRequest<ImportReportDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

/// <summary>What an import did: the file's format, how many conversations came in, were skipped or failed, and each one.</summary>
public sealed record ImportReportDto(string Format, int Imported, int Skipped, int Failed,
    IReadOnlyList<ImportedConversationDto> Conversations);

/// <summary>
/// One conversation of the file: <c>imported</c> (as <see cref="ChatId"/>, with <see cref="Messages"/> messages, of which
/// <see cref="Versions"/> are earlier versions off its current path), <c>skipped</c> (imported before, or nothing to
/// import) or <c>failed</c> (why in <see cref="Reason"/>); <see cref="Notes"/> say what of it was left out and why.
/// </summary>
public sealed record ImportedConversationDto(string Title, string Outcome, Guid? ChatId, int Messages, int Versions,
    string? Reason, IReadOnlyList<string> Notes);

public sealed class ImportChatsHandler(UserAccess access, ChatImportWriter writer)
    : IRequestHandler<ImportChats, ImportReportDto>
{
    public async Task<ImportReportDto> Handle(ImportChats request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var file = Read(request.File);
        var report = new List<ImportedConversationDto>();
        foreach (var conversation in file.Conversations)
        {
            report.Add(await writer.WriteAsync(user, conversation, cancellationToken));
        }

        return new ImportReportDto(file.Format, report.Count(r => r.Outcome == ChatImportWriter.Imported),
            report.Count(r => r.Outcome == ChatImportWriter.Skipped), report.Count(r => r.Outcome == ChatImportWriter.Failed),
            report);
    }

    /// <summary>The file's conversations, or a 400 naming <c>file</c> when it is no export this reads.</summary>
    public static ImportedFile Read(ReadOnlyMemory<byte> file)
    {
        try
        {
            using var document = JsonDocument.Parse(file, new JsonDocumentOptions { MaxDepth = 256 });
            var root = document.RootElement;
            if (!WellFormedJson.IsWellFormed(root, out var field))
            {
                throw new DomainException($"The file holds {WellFormedJson.NotUnicode}, at {field ?? "its top level"}.",
                    DomainErrorKind.Invalid, "file");
            }

            return ChatGptExport.Matches(root) ? ChatGptExport.Read(root)
                : MeatLizardExport.Matches(root) ? MeatLizardExport.Read(root)
                : throw new DomainException(
                    "The file is neither ChatGPT's conversations.json nor a MeatLizard export (of an account or a chat).",
                    DomainErrorKind.Invalid, "file");
        }
        catch (JsonException ex)
        {
            throw new DomainException($"The file is not valid JSON (line {ex.LineNumber + 1}).", DomainErrorKind.Invalid, "file");
        }
    }
}
