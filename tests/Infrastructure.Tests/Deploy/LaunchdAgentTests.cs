using System.Text;
using System.Xml;
using System.Xml.Linq;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Deploy;

/// <summary>
/// deploy/launchd: the client bot's agent is a valid property list (validated against Apple's plist DTD, served from
/// here rather than fetched, as <c>plutil -lint</c> would) that starts at login, restarts after a failure but not after
/// the battery drain's clean stop, runs Homebrew's llama.cpp and logs to ~/Library/Logs; no secret in it.
/// </summary>
[TestFixture]
public sealed class LaunchdAgentTests
{
    private const string AgentFile = "org.meatlizard.client-bot.plist";

    /// <summary>Apple's PropertyList-1.0.dtd, element declarations as published.</summary>
    private const string PlistDtd = """
        <!ENTITY % plistObject "(array | data | date | dict | real | integer | string | true | false )" >
        <!ELEMENT plist %plistObject;>
        <!ATTLIST plist version CDATA "1.0" >
        <!ELEMENT array (%plistObject;)*>
        <!ELEMENT dict (key, %plistObject;)*>
        <!ELEMENT key (#PCDATA)>
        <!ELEMENT string (#PCDATA)>
        <!ELEMENT data (#PCDATA)>
        <!ELEMENT date (#PCDATA)>
        <!ELEMENT true EMPTY>
        <!ELEMENT false EMPTY>
        <!ELEMENT real (#PCDATA)>
        <!ELEMENT integer (#PCDATA)>
        """;

    [Test]
    public void Agent_IsValidAgainstThePlistDtd_WithNoKeyTwiceInADict()
    {
        var problems = Validate(File.ReadAllText(DeployFiles.PathOf("launchd", AgentFile)));

        Assert.That(problems, Is.Empty);
    }

    [TestCase("<key>RunAtLoad</key>\n    <true/>", "<key>RunAtLoad</key>", TestName = "A key without its value is refused")]
    [TestCase("<key>RunAtLoad</key>\n    <true/>", "<key>RunAtLoad</key><true/><key>RunAtLoad</key><false/>", TestName = "A key given twice is refused")]
    [TestCase("<integer>30</integer>", "<int>30</int>", TestName = "An element the DTD does not know is refused")]
    public void Validation_RefusesWhatPlutilRefuses(string valid, string broken)
    {
        var text = File.ReadAllText(DeployFiles.PathOf("launchd", AgentFile));
        Assert.That(text, Does.Contain(valid));

        Assert.That(Validate(text.Replace(valid, broken, StringComparison.Ordinal)), Is.Not.Empty);
    }

    [Test]
    public void Agent_StartsAtLogin_AndRestartsOnlyAfterAFailure()
    {
        var agent = TopDict();

        Assert.Multiple(() =>
        {
            Assert.That(agent["Label"].Value, Is.EqualTo("org.meatlizard.client-bot"));
            Assert.That(agent["RunAtLoad"].Name.LocalName, Is.EqualTo("true"));
            var keepAlive = DictOf(agent["KeepAlive"]);
            Assert.That(keepAlive["SuccessfulExit"].Name.LocalName, Is.EqualTo("false"),
                "the battery drain exits 0 and must not be restarted at once");
            Assert.That(int.Parse(agent["ThrottleInterval"].Value, System.Globalization.CultureInfo.InvariantCulture),
                Is.GreaterThanOrEqualTo(10));
        });
    }

    [Test]
    public void Agent_RunsTheClientBot_WithHomebrewsLlamaCpp_AndLogsToLibraryLogs()
    {
        var agent = TopDict();
        var arguments = agent["ProgramArguments"].Elements().Select(e => e.Value).ToList();
        var environment = DictOf(agent["EnvironmentVariables"]).ToDictionary(p => p.Key, p => p.Value.Value);

        Assert.Multiple(() =>
        {
            Assert.That(agent["ProgramArguments"].Elements().Select(e => e.Name.LocalName), Is.All.EqualTo("string"));
            Assert.That(arguments, Has.Count.EqualTo(2));
            Assert.That(arguments[1], Does.EndWith("/MeatLizard.Presentation.DiscordClient.dll"));
            Assert.That(DeployFiles.HostProjectExists("MeatLizard.Presentation.DiscordClient"), Is.True);
            Assert.That(environment["Inference__LlamaCppDir"], Is.EqualTo("/opt/homebrew/bin"));
            Assert.That(environment["PATH"].Split(':'), Does.Contain("/opt/homebrew/bin"));
            Assert.That(agent["StandardOutPath"].Value, Does.Match("^/Users/[^/]+/Library/Logs/"));
            Assert.That(agent["StandardErrorPath"].Value, Does.Match("^/Users/[^/]+/Library/Logs/"));
            Assert.That(environment.Keys, Has.None.StartsWith("Discord__").And.None.StartsWith("Relay__Keys"),
                "secrets belong in appsettings.Production.json (mode 600), not in the agent");
        });
    }

    private static Dictionary<string, XElement> TopDict()
    {
        var document = XDocument.Parse(File.ReadAllText(DeployFiles.PathOf("launchd", AgentFile)));
        return DictOf(document.Root!.Elements().Single());
    }

    private static Dictionary<string, XElement> DictOf(XElement dict)
    {
        Assert.That(dict.Name.LocalName, Is.EqualTo("dict"));
        var children = dict.Elements().ToList();
        return Enumerable.Range(0, children.Count / 2).ToDictionary(i => children[2 * i].Value, i => children[2 * i + 1]);
    }

    /// <summary>DTD validation errors, and keys given twice in one dict (which the DTD cannot express).</summary>
    private static List<string> Validate(string text)
    {
        var problems = new List<string>();
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Parse,
            ValidationType = ValidationType.DTD,
            XmlResolver = new PlistDtdResolver(),
        };
        settings.ValidationEventHandler += (_, e) => problems.Add(e.Message);
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), settings);
            var document = XDocument.Load(reader);
            Assert.That(document.DocumentType?.PublicId, Is.EqualTo("-//Apple//DTD PLIST 1.0//EN"));
            foreach (var dict in document.Descendants("dict"))
            {
                problems.AddRange(dict.Elements("key").GroupBy(k => k.Value).Where(g => g.Count() > 1)
                    .Select(g => $"key '{g.Key}' appears {g.Count()} times in one dict"));
            }
        }
        catch (XmlException ex)
        {
            problems.Add(ex.Message);
        }

        return problems;
    }

    /// <summary>Answers the plist DTD's address with the DTD itself: no network, nothing else resolvable.</summary>
    private sealed class PlistDtdResolver : XmlResolver
    {
        public override object GetEntity(Uri absoluteUri, string? role, Type? ofObjectToReturn) =>
            absoluteUri.AbsoluteUri == "http://www.apple.com/DTDs/PropertyList-1.0.dtd"
                ? new MemoryStream(Encoding.UTF8.GetBytes(PlistDtd))
                : throw new XmlException($"unexpected external entity {absoluteUri}");
    }
}
