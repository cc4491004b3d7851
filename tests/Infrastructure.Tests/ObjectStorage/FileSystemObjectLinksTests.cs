using System.Web;
using MeatLizard.Infrastructure.ObjectStorage;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.ObjectStorage;

public sealed class FileSystemObjectLinksTests
{
    private readonly FakeClock _clock = new();
    private FileSystemObjectLinks _links = null!;

    [SetUp]
    public void SetUp() => _links = new FileSystemObjectLinks(new byte[32], _clock);

    [Test]
    public async Task Link_IsValidForItsOwnValuesUntilItExpires()
    {
        var link = await _links.CreateDownloadLinkAsync("transcripts/u/s/a b.json", "a b.json", TimeSpan.FromMinutes(10),
            CancellationToken.None);
        var query = HttpUtility.ParseQueryString(new Uri(new Uri("http://api.test"), link.Url).Query);
        var expires = long.Parse(query["expires"]!, System.Globalization.CultureInfo.InvariantCulture);

        var fresh = _links.IsValid(query["key"]!, query["name"]!, expires, query["signature"]!);
        var otherKey = _links.IsValid("transcripts/u/s/other.json", query["name"]!, expires, query["signature"]!);
        var longer = _links.IsValid(query["key"]!, query["name"]!, expires + 3600, query["signature"]!);
        _clock.Advance(TimeSpan.FromMinutes(11));
        var expired = _links.IsValid(query["key"]!, query["name"]!, expires, query["signature"]!);

        Assert.Multiple(() =>
        {
            Assert.That(link.Url, Does.StartWith(FileSystemObjectLinks.RoutePath + "?"));
            Assert.That(query["key"], Is.EqualTo("transcripts/u/s/a b.json"));
            Assert.That((fresh, otherKey, longer, expired), Is.EqualTo((true, false, false, false)));
        });
    }
}
