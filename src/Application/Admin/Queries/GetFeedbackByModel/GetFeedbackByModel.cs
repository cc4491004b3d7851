using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Feedback;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The users' feedback on answers, counted per model and host.</summary>
public sealed record GetFeedbackByModel(AdminActor Actor) : AdminCommand<IReadOnlyList<ModelFeedbackDto>>(Actor)
{
    public override string AuditName => "feedback";
}

public sealed class GetFeedbackByModelHandler(IFeedbackStore feedback)
    : IRequestHandler<GetFeedbackByModel, IReadOnlyList<ModelFeedbackDto>>
{
    public Task<IReadOnlyList<ModelFeedbackDto>> Handle(GetFeedbackByModel request, CancellationToken cancellationToken) =>
        feedback.CountByModelAsync(cancellationToken);
}
