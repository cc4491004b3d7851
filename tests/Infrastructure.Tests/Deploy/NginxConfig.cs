using System.Text;
using System.Text.RegularExpressions;

namespace MeatLizard.Infrastructure.Tests.Deploy;

/// <summary>One nginx directive: its name, arguments (quotes removed) and, for a block, what it holds.</summary>
internal sealed record NginxDirective(string Name, IReadOnlyList<string> Arguments, IReadOnlyList<NginxDirective>? Block, int Line)
{
    public IEnumerable<NginxDirective> Children(string name) => (Block ?? []).Where(d => d.Name == name);

    public IEnumerable<string[]> Values(string name) => Children(name).Select(d => d.Arguments.ToArray());
}

/// <summary>
/// A structural reader of nginx configuration (nginx -t is not installed here): tokens, quoted strings, comments,
/// blocks. A directive that does not end in ';' (or open a block) on the line it starts, or an unbalanced brace, is an
/// error naming its line.
/// </summary>
internal static class NginxConfig
{
    public static IReadOnlyList<NginxDirective> Parse(string text)
    {
        var tokens = Tokenize(text);
        var position = 0;
        var top = ParseBlock(tokens, ref position, closing: false);
        return top;
    }

    /// <summary>
    /// The location nginx picks for a path: the longest matching prefix location, unless a regular-expression location
    /// (tried in order) matches first and the prefix is not <c>^~</c>.
    /// </summary>
    public static NginxDirective? LocationFor(NginxDirective server, string path)
    {
        var locations = server.Children("location").ToList();
        var prefix = locations
            .Where(l => l.Arguments is [var p] && path.StartsWith(p, StringComparison.Ordinal)
                        || l.Arguments is ["^~", var q] && path.StartsWith(q, StringComparison.Ordinal)
                        || l.Arguments is ["=", var e] && path == e)
            .OrderByDescending(l => l.Arguments[^1].Length)
            .FirstOrDefault();
        if (prefix?.Arguments[0] is "=" or "^~")
        {
            return prefix;
        }

        var regex = locations.FirstOrDefault(l => l.Arguments is ["~", var r] && Regex.IsMatch(path, r)
                                                  || l.Arguments is ["~*", var ri] && Regex.IsMatch(path, ri, RegexOptions.IgnoreCase));
        return regex ?? prefix;
    }

    private static List<NginxDirective> ParseBlock(List<(string Text, bool Quoted, int Line)> tokens, ref int position, bool closing)
    {
        var directives = new List<NginxDirective>();
        var words = new List<(string Text, bool Quoted, int Line)>();
        while (position < tokens.Count)
        {
            var token = tokens[position++];
            if (!token.Quoted && token.Text == ";")
            {
                if (words.Count == 0)
                {
                    throw new FormatException($"line {token.Line}: ';' with no directive before it");
                }

                directives.Add(new NginxDirective(words[0].Text, [.. words.Skip(1).Select(w => w.Text)], null, words[0].Line));
                words.Clear();
            }
            else if (!token.Quoted && token.Text == "{")
            {
                if (words.Count == 0)
                {
                    throw new FormatException($"line {token.Line}: '{{' with no directive before it");
                }

                var block = ParseBlock(tokens, ref position, closing: true);
                directives.Add(new NginxDirective(words[0].Text, [.. words.Skip(1).Select(w => w.Text)], block, words[0].Line));
                words.Clear();
            }
            else if (!token.Quoted && token.Text == "}")
            {
                if (words.Count > 0)
                {
                    throw new FormatException($"line {words[0].Line}: directive '{words[0].Text}' does not end with ';'");
                }

                return closing ? directives : throw new FormatException($"line {token.Line}: '}}' closes no block");
            }
            else if (words.Count > 0 && token.Line != words[0].Line)
            {
                // nginx allows a directive over several lines; this site keeps each on one, so a forgotten ';' shows.
                throw new FormatException($"line {words[0].Line}: directive '{words[0].Text}' does not end with ';' on its line");
            }
            else
            {
                words.Add(token);
            }
        }

        if (words.Count > 0)
        {
            throw new FormatException($"line {words[0].Line}: directive '{words[0].Text}' does not end with ';'");
        }

        return closing ? throw new FormatException("a block is not closed: unbalanced '{'") : directives;
    }

    private static List<(string Text, bool Quoted, int Line)> Tokenize(string text)
    {
        var tokens = new List<(string, bool, int)>();
        var line = 1;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '\n')
            {
                line++;
                i++;
            }
            else if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '#')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }
            }
            else if (c is ';' or '{' or '}')
            {
                tokens.Add((c.ToString(), false, line));
                i++;
            }
            else if (c is '"' or '\'')
            {
                var start = line;
                var value = new StringBuilder();
                i++;
                while (i < text.Length && text[i] != c)
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }

                    line += text[i] == '\n' ? 1 : 0;
                    value.Append(text[i++]);
                }

                if (i >= text.Length)
                {
                    throw new FormatException($"line {start}: unterminated quoted string");
                }

                i++;
                tokens.Add((value.ToString(), true, start));
            }
            else
            {
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not (';' or '{' or '}' or '"' or '\''))
                {
                    i++;
                }

                tokens.Add((text[start..i], false, line));
            }
        }

        return tokens;
    }
}
