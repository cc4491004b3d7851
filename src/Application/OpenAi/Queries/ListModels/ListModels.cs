using MediatR;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.OpenAi.Queries;

/// <summary>The models a signed-in caller may ask for, with what the hosts say of each (OpenAI's <c>GET /v1/models</c>).</summary>
public sealed record ListModels : IRequest<IReadOnlyList<ModelInfo>>;

public sealed class ListModelsHandler(UserAccess access, ModelCatalog catalog)
    : IRequestHandler<ListModels, IReadOnlyList<ModelInfo>>
{
    public async Task<IReadOnlyList<ModelInfo>> Handle(ListModels request, CancellationToken cancellationToken)
    {
        await access.RequireActiveUserAsync(cancellationToken);
        return await catalog.DescribeAsync(cancellationToken);
    }
}
