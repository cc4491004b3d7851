using FluentValidation;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Chats.Organising;

/// <summary>One of a user's folders and how many of their chats it holds.</summary>
public sealed record ChatFolderDto(Guid Id, string Name, int Chats, DateTimeOffset CreatedAt);

/// <summary>A folder's name: 1 to <see cref="MaxLength"/> characters, trimmed.</summary>
internal static class FolderNameRule
{
    public const int MaxLength = 60;

    public static void Apply<T>(IRuleBuilder<T, string?> rule) => rule
        .Must(n => !string.IsNullOrWhiteSpace(n)).WithMessage("Give the folder a name.")
        .Must(n => n is null || n.Trim().Length <= MaxLength)
        .WithMessage($"A folder's name is at most {MaxLength} characters.")
        .Must(n => n is null || StorableText.IsStorable(n))
        .WithMessage("A folder's name holds no control character (only tab, newline and carriage return) and no broken character.");
}
