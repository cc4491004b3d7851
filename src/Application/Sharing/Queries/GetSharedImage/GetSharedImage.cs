using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages;

namespace MeatLizard.Application.Sharing.Queries;

/// <summary>
/// An image of a message of a share link's copy, to anyone who holds the link; any other image (of a later message, of
/// another chat, unknown) and any image once the link is revoked is the same 404.
/// </summary>
public sealed record GetSharedImage(string Token, string Name) : IRequest<ChatImage>;

public sealed class GetSharedImageHandler(IShareLinkStore links, ChatImages images) : IRequestHandler<GetSharedImage, ChatImage>
{
    public async Task<ChatImage> Handle(GetSharedImage request, CancellationToken cancellationToken)
    {
        if (!ShareTokens.IsPlausible(request.Token) || string.IsNullOrEmpty(request.Name))
        {
            throw NotFoundException.SharedImage();
        }

        return await links.FindImageAsync(ShareTokens.Hash(request.Token), request.Name, cancellationToken) is { } source
               && await images.FindAsync(source.OwnerId, source.ChatId, request.Name, cancellationToken) is { } image
            ? image
            : throw NotFoundException.SharedImage();
    }
}
