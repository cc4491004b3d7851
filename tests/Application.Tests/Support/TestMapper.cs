using AutoMapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace MeatLizard.Application.Tests.Support;

public static class TestMapper
{
    public static readonly MapperConfiguration Configuration = new(
        cfg => cfg.AddMaps(typeof(DependencyInjection).Assembly), NullLoggerFactory.Instance);

    public static readonly IMapper Instance = Configuration.CreateMapper();
}
