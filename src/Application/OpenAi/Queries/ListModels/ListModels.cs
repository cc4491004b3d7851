using MediatR;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.OpenAi.Queries;

/// <summary>The models a signed-in caller may ask for (OpenAI's <c>GET /v1/models</c>).</summary>
public sealed record ListModels : IRequest<IReadOnlyList<string>>;

public sealed class ListModelsHandler(UserAccess access, ModelCatalog catalog)
    : IRequestHandler<ListModels, IReadOnlyList<string>>
{
    public async Task<IReadOnlyList<string>> Handle(ListModels request, CancellationToken cancellationToken)
    {
        await access.RequireActiveUserAsync(cancellationToken);
        return await catalog.ListAsync(cancellationToken);
    }
}
