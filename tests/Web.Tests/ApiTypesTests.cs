using System.Diagnostics;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The web app's API types (<c>src/Presentation.Web.Client/src/api-types.ts</c>) are generated from the OpenAPI
/// document with openapi-typescript (installed by <c>npm ci</c> from the lock file). Here they are generated again from
/// the running API's document and the app is type-checked against them, so an answer whose shape changed breaks this
/// test; and the committed file must equal what the live document generates.
/// </summary>
public sealed class ApiTypesTests
{
    private const string Regenerate =
        "Regenerate it: start the API (./run.sh) and run `npm run api-types` in src/Presentation.Web.Client " +
        "(MEATLIZARD_OPENAPI=<url of /openapi/v1.json> for another address).";

    private static string Client => Path.Combine(Paths.SolutionRoot, "src", "Presentation.Web.Client");

    [Test]
    public async Task WebApp_TypeChecksAgainstTheLiveOpenApiDocument_AndItsCommittedTypesAreCurrent()
    {
        Assert.That(Path.Combine(Client, "node_modules", "openapi-typescript"), Does.Exist,
            "npm ci has not run in src/Presentation.Web.Client (scripts/web.sh does it).");
        string document;
        await using (var host = await new ApiHost(withEngine: false).StartAsync())
        {
            using var http = new HttpClient { BaseAddress = host.BaseAddress };
            document = await http.GetStringAsync("openapi/v1.json");
        }

        // The app's sources with the types generated from the live document in place of the committed ones.
        var work = Directory.CreateTempSubdirectory("meatlizard-api-types-").FullName;
        try
        {
            CopyDirectory(Path.Combine(Client, "src"), Path.Combine(work, "src"));
            Directory.CreateSymbolicLink(Path.Combine(work, "node_modules"), Path.Combine(Client, "node_modules"));
            var documentPath = Path.Combine(work, "openapi.json");
            await File.WriteAllTextAsync(documentPath, document);
            var generated = Path.Combine(work, "src", "api-types.ts");
            var generation = await NodeAsync(work, "node_modules/openapi-typescript/bin/cli.js", documentPath, "--output", generated);
            Assert.That(generation.ExitCode, Is.Zero, $"openapi-typescript failed:\n{generation.Output}");

            await File.WriteAllTextAsync(Path.Combine(work, "tsconfig.json"),
                $$"""{ "extends": "{{Path.Combine(Client, "tsconfig.json")}}", "include": ["src"] }""");
            var check = await NodeAsync(work, "node_modules/typescript/bin/tsc", "--noEmit", "-p", "tsconfig.json");
            Assert.That(check.ExitCode, Is.Zero,
                $"The web app does not type-check against the live API document:\n{check.Output}\n{Regenerate}");

            Assert.That(await File.ReadAllTextAsync(generated),
                Is.EqualTo(await File.ReadAllTextAsync(Path.Combine(Client, "src", "api-types.ts"))),
                $"src/Presentation.Web.Client/src/api-types.ts is stale: the API's OpenAPI document changed. {Regenerate}");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<(int ExitCode, string Output)> NodeAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("node could not be started.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
