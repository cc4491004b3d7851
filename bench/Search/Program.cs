using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Bench;
using MeatLizard.Bench.Search;

// Full-text search (issue 40): one user with --messages (100,000) messages in --chats (1,000) chats, on SQLite and on
// PostgreSQL, searched through the real API (GET /api/v1/search, first page of 20) one query after the other. The
// messages are made of a synthetic vocabulary whose word frequencies follow Zipf's law, as words in text do, and the
// queries are grouped by how many messages hold their words: a rare word (1–10 messages), a medium one (10–1,000), a
// common one (1,000–10,000), two medium words together, and a word in more than 10,000 messages (what a search for
// "the" would be). Prints p50/p99/max per group and judges the target, p99 under 50 ms, on each.
//   usage: bench/search.sh [--messages 100000] [--chats 1000] [--queries 200 (per group)] [--storage sqlite,postgres]
//                          [--no-verdict (measure only: the target does not set the exit status)]
//   Exits 1 when the target is NOT met or a search failed.
internal static class SearchBenchmark
{
    private const double TargetMs = 50;

    public static async Task<int> Main(string[] args)
    {
        (var verdicts, args) = Verdicts.Parse(args);
        var messages = (int)Option(args, "--messages", 100_000);
        var chats = (int)Option(args, "--chats", 1_000);
        var queries = (int)Option(args, "--queries", 200);
        var storages = (OptionText(args, "--storage") ?? "sqlite,postgres").Split(',');
        var failed = false;
        Console.WriteLine($"Search: one user, {messages:N0} messages in {chats:N0} chats; {queries} searches per group, one at a time, through GET /api/v1/search (limit 20).");
        foreach (var storage in storages)
        {
            var corpus = new Corpus(seed: 40);
            await using var host = await SearchHost.StartAsync(storage);
            using var http = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(60) };
            http.DefaultRequestHeaders.Authorization = new("Bearer", await BenchApi.SignUpAsync(http));
            var chatIds = new List<Guid>();
            for (var i = 0; i < chats; i++)
            {
                var created = await http.PostAsJsonAsync("api/v1/sessions", new { title = $"Chat {i} about {corpus.Word(corpus.Sample())}" });
                created.EnsureSuccessStatusCode();
                chatIds.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
            }

            var load = Stopwatch.StartNew();
            await host.LoadAsync(corpus.Messages(chatIds, messages));
            Console.WriteLine($"{host.Name}: {messages:N0} messages stored and indexed in {load.Elapsed.TotalSeconds:0.0} s.");

            Console.WriteLine($"  {"group",-34} {"matches",14} {"p50",9} {"p99",9} {"max",9}  target p99 < {TargetMs} ms");
            foreach (var group in QueryGroups(corpus))
            {
                var words = corpus.WordsMatching(group.MinMessages, group.MaxMessages, queries * group.Words).ToList();
                if (words.Count < group.Words)
                {
                    Console.WriteLine($"  {group.Name,-34} no words in this range at this size");
                    continue;
                }

                for (var i = 0; i < 10; i++)
                {
                    await SearchAsync(http, words[i % words.Count]); // warm-up: plans, caches, connections
                }

                var times = new List<double>();
                var matched = new List<int>();
                for (var i = 0; i < queries; i++)
                {
                    var q = string.Join(' ', Enumerable.Range(0, group.Words).Select(k => words[(i * group.Words + k) % words.Count]));
                    var started = Stopwatch.GetTimestamp();
                    var (ok, results) = await SearchAsync(http, q);
                    times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    failed |= !ok;
                    matched.Add(results);
                }

                times.Sort();
                var p99 = Percentiles.OfSorted(times, 0.99);
                var verdict = verdicts.Judge($"{host.Name} {group.Name} p99 < {TargetMs} ms", p99 < TargetMs);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {group.Name,-34} {group.Range,14} {Percentiles.OfSorted(times, 0.5),6:0.0} ms {p99,6:0.0} ms {times[^1],6:0.0} ms  {verdict}{(matched.Contains(0) ? " (some found nothing)" : "")}"));
            }
        }

        return verdicts.ExitStatus(failed);
    }

    private sealed record QueryGroup(string Name, int Words, int MinMessages, int MaxMessages)
    {
        public string Range => MaxMessages == int.MaxValue ? $"> {MinMessages:N0}" : $"{MinMessages:N0}–{MaxMessages:N0}";
    }

    private static IEnumerable<QueryGroup> QueryGroups(Corpus corpus) =>
    [
        new("a rare word", 1, 1, 10),
        new("a medium word", 1, 10, 1_000),
        new("a common word", 1, 1_000, 10_000),
        new("two medium words", 2, 10, 1_000),
        new("a word in most messages", 1, 10_000, int.MaxValue),
    ];

    private static async Task<(bool Ok, int Results)> SearchAsync(HttpClient http, string q)
    {
        using var response = await http.GetAsync($"api/v1/search?q={Uri.EscapeDataString(q)}&limit=20");
        if (!response.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"  search '{q}' failed: {(int)response.StatusCode}");
            return (false, 0);
        }

        var page = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (true, page.GetProperty("results").GetArrayLength());
    }

    private static double Option(string[] args, string name, double fallback) =>
        OptionText(args, name) is { } text ? double.Parse(text, CultureInfo.InvariantCulture) : fallback;

    private static string? OptionText(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }
}
