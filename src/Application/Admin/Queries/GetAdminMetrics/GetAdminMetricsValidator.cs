using FluentValidation;

namespace MeatLizard.Application.Admin.Queries;

public sealed class GetAdminMetricsValidator : AbstractValidator<GetAdminMetrics>
{
    public GetAdminMetricsValidator() =>
        RuleFor(c => c.Period).Must(p => MetricsPeriod.TryParse(p, out _)).When(c => c.Period is not null)
            .WithMessage(MetricsPeriod.Rule);
}
