using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MeatLizard.Application.Inference;

/// <summary>
/// Structured output that a model host enforces token by token: a JSON schema (OpenAI's <c>response_format</c>
/// <c>json_schema</c>), or any JSON object, written as a grammar in GBNF, the form llama.cpp samples under. Every text
/// the grammar allows is valid under the schema.
/// </summary>
/// <remarks>
/// The schema keywords that a grammar can enforce, much as OpenAI's structured outputs allow: <c>type</c> (one or a list),
/// <c>properties</c> with <c>required</c> (properties come in the schema's order, optional ones may be left out, no
/// others are written), <c>items</c> with <c>minItems</c>/<c>maxItems</c>, <c>minLength</c>/<c>maxLength</c>,
/// <c>enum</c>, <c>const</c>, <c>anyOf</c>, and <c>$ref</c> into <c>$defs</c> or <c>definitions</c> (recursion
/// included). Annotations (<c>title</c>, <c>description</c>, <c>default</c>, <c>examples</c>, <c>$schema</c>, …) are
/// read past. Any other keyword (<c>pattern</c>, <c>format</c>, <c>minimum</c>, <c>oneOf</c>, …) is refused with
/// <see cref="JsonSchemaNotSupportedException"/> naming where it is: a grammar could not keep the promise.
/// llama-server turns schemas into grammars itself, but puts the chat template's generation prompt in front, which
/// some models' vocabularies cannot express ("Failed to initialize samplers").
/// <para>
/// The work is bounded by the schema, not by what it could unfold to: a schema is at most <see cref="MaxSchemaLength"/>
/// characters and <see cref="MaxDepth"/> levels deep, a sub-schema written several times (or a type listed twice) is
/// turned into a rule once and named wherever it comes again, and the grammar may hold at most <see cref="MaxRules"/>
/// rules and <see cref="MaxGrammarLength"/> characters. Beyond any of these the schema is refused, naming the limit.
/// </para>
/// </remarks>
public sealed class JsonSchemaGrammar
{
    private const int MaxRepeat = 1_000;

    /// <summary>The longest schema taken, in characters of its JSON text.</summary>
    public const int MaxSchemaLength = 128 * 1024;

    /// <summary>How deep sub-schemas may nest (properties, items, anyOf, definitions): more than OpenAI's 10.</summary>
    public const int MaxDepth = 16;

    /// <summary>The most rules a grammar may have: enough for thousands of properties.</summary>
    public const int MaxRules = 8_192;

    /// <summary>The longest grammar written, in characters.</summary>
    public const int MaxGrammarLength = 1024 * 1024;

    /// <summary>
    /// The most repetitions all bounds together may ask for (llama.cpp unfolds <c>x{0,1000}</c> into a thousand rules):
    /// the grammar stays as cheap to load on the model host as it is to write here.
    /// </summary>
    public const int MaxRepetitions = 200_000;

    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "$defs", "definitions", "strict", "additionalProperties",
    };

    private static readonly HashSet<string> Understood = new(StringComparer.Ordinal)
    {
        "type", "properties", "required", "items", "minItems", "maxItems", "minLength", "maxLength", "enum", "const",
        "anyOf", "$ref",
    };

    private readonly JsonElement _root;
    private readonly CancellationToken _cancellationToken;
    private readonly StringBuilder _rules = new();
    private readonly Dictionary<string, string> _references = new(StringComparer.Ordinal);
    // Each distinct sub-schema (by its JSON text) already turned into a rule, by that rule's name.
    private readonly Dictionary<string, string> _written = new(StringComparer.Ordinal);
    private int _next;
    private int _ruleCount;
    private int _repetitions;
    private int _depth;

    private JsonSchemaGrammar(JsonElement root, CancellationToken cancellationToken)
    {
        _root = root;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Any JSON object (RFC 8259), with a little whitespace between tokens at most.</summary>
    public static string AnyObject { get; } = Basics + "root ::= object\n";

    /// <summary>The grammar of the texts valid under <paramref name="schema"/>.</summary>
    /// <exception cref="JsonSchemaNotSupportedException">The schema asks what a grammar cannot enforce.</exception>
    /// <exception cref="OperationCanceledException">The caller went away meanwhile.</exception>
    public static string From(JsonElement schema, CancellationToken cancellationToken = default)
    {
        var length = schema.GetRawText().Length;
        if (length > MaxSchemaLength)
        {
            throw new JsonSchemaNotSupportedException(
                $"The schema is {length.ToString(CultureInfo.InvariantCulture)} characters long; at most {MaxSchemaLength.ToString(CultureInfo.InvariantCulture)} are taken.",
                "#");
        }

        var grammar = new JsonSchemaGrammar(schema, cancellationToken);
        var root = grammar.Rule(schema, "#");
        grammar.CheckLength(root.Length);
        return Basics + grammar._rules + "root ::= " + root + "\n";
    }

    /// <summary>The grammar a <c>response_format</c> asks for (<c>json_object</c> or <c>json_schema</c>), or null.</summary>
    /// <exception cref="JsonSchemaNotSupportedException">The schema asks what a grammar cannot enforce.</exception>
    public static string? ForResponseFormat(string responseFormat, CancellationToken cancellationToken = default)
    {
        using var format = JsonDocument.Parse(responseFormat);
        var type = format.RootElement.TryGetProperty("type", out var t) ? t.GetString() : null;
        return type switch
        {
            "json_object" => AnyObject,
            "json_schema" when format.RootElement.TryGetProperty("json_schema", out var named)
                               && named.TryGetProperty("schema", out var schema) => From(schema, cancellationToken),
            _ => null,
        };
    }

    private const string Basics = """
        value  ::= object | array | string | number | "true" | "false" | "null"
        object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
        array  ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
        string ::= "\"" char* "\""
        char   ::= [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
        number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?
        integer ::= "-"? ( "0" | [1-9] [0-9]{0,15} )
        ws     ::= [ \t\n]{0,4}

        """;

    /// <summary>
    /// An expression for the texts valid under <paramref name="schema"/>, found at <paramref name="path"/>: a sub-schema
    /// met before is the name of the rule written for it then.
    /// </summary>
    private string Rule(JsonElement schema, string path)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        if (schema.ValueKind == JsonValueKind.True)
        {
            return "value";
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new JsonSchemaNotSupportedException($"The schema at {path} is an object.", path);
        }

        if (_depth >= MaxDepth)
        {
            throw new JsonSchemaNotSupportedException(
                $"The schema at {path} nests deeper than {MaxDepth.ToString(CultureInfo.InvariantCulture)} levels.", path);
        }

        var text = schema.GetRawText();
        if (_written.TryGetValue(text, out var written))
        {
            return written;
        }

        _depth++;
        string expression;
        try
        {
            expression = Unwritten(schema, path);
        }
        finally
        {
            _depth--;
        }

        if (IsName(expression))
        {
            _written[text] = expression;
            return expression;
        }

        var name = "schema-" + (_next++).ToString(CultureInfo.InvariantCulture);
        Add(name, expression);
        _written[text] = name;
        return name;
    }

    private static bool IsName(string expression) =>
        expression.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private string Unwritten(JsonElement schema, string path)
    {
        foreach (var keyword in schema.EnumerateObject())
        {
            if (!Understood.Contains(keyword.Name) && !Annotations.Contains(keyword.Name))
            {
                throw new JsonSchemaNotSupportedException(
                    $"The schema keyword '{keyword.Name}' at {path} cannot be enforced; the supported keywords are " +
                    "type, properties, required, items, minItems, maxItems, minLength, maxLength, enum, const, anyOf and $ref.",
                    path + "/" + keyword.Name);
            }
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            return Reference(reference, path);
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            return Literal(Compact(constant));
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
            {
                throw new JsonSchemaNotSupportedException($"'enum' at {path} is a list of at least one value.", path + "/enum");
            }

            return "(" + string.Join(" | ", values.EnumerateArray().Select(v => Literal(Compact(v))).Distinct(StringComparer.Ordinal)) + ")";
        }

        if (schema.TryGetProperty("anyOf", out var choices))
        {
            if (choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
            {
                throw new JsonSchemaNotSupportedException($"'anyOf' at {path} is a list of at least one schema.", path + "/anyOf");
            }

            return "(" + string.Join(" | ", choices.EnumerateArray().Select((c, i) =>
                Rule(c, $"{path}/anyOf/{i.ToString(CultureInfo.InvariantCulture)}")).Distinct(StringComparer.Ordinal)) + ")";
        }

        if (!schema.TryGetProperty("type", out var type))
        {
            return "value";
        }

        if (type.ValueKind == JsonValueKind.String)
        {
            return Typed(schema, type.GetString()!, path);
        }

        if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0
                                                  && type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String))
        {
            // Each type once: ["object", "object"] is one object, not the same properties walked twice.
            return "(" + string.Join(" | ", type.EnumerateArray().Select(t => t.GetString()!).Distinct(StringComparer.Ordinal)
                .Select(t => Typed(schema, t, path))) + ")";
        }

        throw new JsonSchemaNotSupportedException($"'type' at {path} is a type name or a list of them.", path + "/type");
    }

    private string Typed(JsonElement schema, string type, string path) => type switch
    {
        "object" => Object(schema, path),
        "array" => Array(schema, path),
        "string" => String(schema, path),
        "number" => "number",
        "integer" => "integer",
        "boolean" => "(\"true\" | \"false\")",
        "null" => "\"null\"",
        _ => throw new JsonSchemaNotSupportedException(
            $"'{type}' at {path} is not a JSON schema type (object, array, string, number, integer, boolean, null).",
            path + "/type"),
    };

    /// <summary>
    /// The declared properties in order, each required one present, optional ones free to be left out: rules
    /// "first from i" (no comma before) and "rest from i" (each with its comma), so no text has a stray comma.
    /// </summary>
    private string Object(JsonElement schema, string path)
    {
        if (!schema.TryGetProperty("properties", out var declared))
        {
            return "object";
        }

        if (declared.ValueKind != JsonValueKind.Object)
        {
            throw new JsonSchemaNotSupportedException($"'properties' at {path} is an object.", path + "/properties");
        }

        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out var names))
        {
            if (names.ValueKind != JsonValueKind.Array || names.EnumerateArray().Any(n => n.ValueKind != JsonValueKind.String))
            {
                throw new JsonSchemaNotSupportedException($"'required' at {path} is a list of property names.", path + "/required");
            }

            required.UnionWith(names.EnumerateArray().Select(n => n.GetString()!));
            if (required.FirstOrDefault(n => !declared.TryGetProperty(n, out _)) is { } undeclared)
            {
                throw new JsonSchemaNotSupportedException(
                    $"'{undeclared}' is required at {path} but not among its properties.", path + "/required");
            }
        }

        var properties = declared.EnumerateObject().Select(p => (
            Pair: Literal(JsonSerializer.Serialize(p.Name)) + " ws \":\" ws " + Rule(p.Value, $"{path}/properties/{p.Name}"),
            Required: required.Contains(p.Name))).ToList();
        var name = "object-" + (_next++).ToString(CultureInfo.InvariantCulture);
        for (var i = properties.Count - 1; i >= 0; i--)
        {
            var rest = i + 1 < properties.Count ? $" {name}-rest{i + 1}" : "";
            var first = i + 1 < properties.Count ? $" | {name}-first{i + 1}" : "";
            var (pair, isRequired) = properties[i];
            Add($"{name}-rest{i}", isRequired ? $"ws \",\" ws {pair}{rest}" : $"( ws \",\" ws {pair} )?{rest}");
            Add($"{name}-first{i}", isRequired ? $"{pair}{rest}" : $"{pair}{rest}{first}");
        }

        var empty = properties.All(p => !p.Required) ? "?" : "";
        return properties.Count == 0
            ? "( \"{\" ws \"}\" )"
            : $"( \"{{\" ws ( {name}-first0 ){empty} ws \"}}\" )";
    }

    private string Array(JsonElement schema, string path)
    {
        var item = schema.TryGetProperty("items", out var items) ? Rule(items, path + "/items") : "value";
        var min = Count(schema, "minItems", path) ?? 0;
        var max = Count(schema, "maxItems", path);
        if (max < min)
        {
            throw new JsonSchemaNotSupportedException($"'maxItems' at {path} is less than 'minItems'.", path + "/maxItems");
        }

        var name = "array-" + (_next++).ToString(CultureInfo.InvariantCulture);
        Add(name + "-item", item);
        // The first item, then the others each with a comma: repetition bounds shifted by the first.
        var others = Repeat($"( ws \",\" ws {name}-item )", Math.Max(min - 1, 0), max is { } m ? Math.Max(m - 1, 0) : null);
        Repeated(max ?? min);
        var some = $"{name}-item {others}";
        return max == 0 ? "( \"[\" ws \"]\" )"
            : min == 0 ? $"( \"[\" ws ( {some} )? ws \"]\" )"
            : $"( \"[\" ws {some} ws \"]\" )";
    }

    private string String(JsonElement schema, string path)
    {
        var min = Count(schema, "minLength", path);
        var max = Count(schema, "maxLength", path);
        if (min is null && max is null)
        {
            return "string";
        }

        if (max < (min ?? 0))
        {
            throw new JsonSchemaNotSupportedException($"'maxLength' at {path} is less than 'minLength'.", path + "/maxLength");
        }

        Repeated(max ?? min ?? 0);
        return "( \"\\\"\" " + Repeat("char", min ?? 0, max) + " \"\\\"\" )";
    }

    private string Reference(JsonElement reference, string path)
    {
        var target = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : "";
        if (_references.TryGetValue(target, out var known))
        {
            return known;
        }

        var parts = target.Split('/');
        if (parts.Length != 3 || parts[0] != "#" || parts[1] is not ("$defs" or "definitions")
            || !_root.TryGetProperty(parts[1], out var definitions) || definitions.ValueKind != JsonValueKind.Object
            || !definitions.TryGetProperty(parts[2], out var definition))
        {
            throw new JsonSchemaNotSupportedException(
                $"'$ref' at {path} points into this schema's $defs, like #/$defs/name, and the definition exists.", path + "/$ref");
        }

        var name = "ref-" + (_next++).ToString(CultureInfo.InvariantCulture);
        _references[target] = name;
        Add(name, Rule(definition, target));
        return name;
    }

    private void Add(string name, string expression)
    {
        if (++_ruleCount > MaxRules)
        {
            throw new JsonSchemaNotSupportedException(
                $"The schema makes a grammar of more than {MaxRules.ToString(CultureInfo.InvariantCulture)} rules.", "#");
        }

        CheckLength(name.Length + expression.Length + 6);
        _rules.Append(name).Append(" ::= ").Append(expression).Append('\n');
    }

    private void Repeated(int times)
    {
        _repetitions += times;
        if (_repetitions > MaxRepetitions)
        {
            throw new JsonSchemaNotSupportedException(
                $"The schema's bounds (minItems, maxItems, minLength, maxLength) ask for more than {MaxRepetitions.ToString(CultureInfo.InvariantCulture)} repetitions together.",
                "#");
        }
    }

    private void CheckLength(int more)
    {
        if ((long)_rules.Length + more + Basics.Length > MaxGrammarLength)
        {
            throw new JsonSchemaNotSupportedException(
                $"The schema makes a grammar longer than {MaxGrammarLength.ToString(CultureInfo.InvariantCulture)} characters.", "#");
        }
    }

    private static string Repeat(string item, int min, int? max) => max switch
    {
        null => min == 0 ? $"{item}*" : $"{item}{{{min.ToString(CultureInfo.InvariantCulture)},}}",
        _ => $"{item}{{{min.ToString(CultureInfo.InvariantCulture)},{max.Value.ToString(CultureInfo.InvariantCulture)}}}",
    };

    private static int? Count(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) && n is >= 0 and <= MaxRepeat
            ? n
            : throw new JsonSchemaNotSupportedException(
                $"'{keyword}' at {path} is a whole number from 0 to {MaxRepeat.ToString(CultureInfo.InvariantCulture)}.",
                path + "/" + keyword);
    }

    /// <summary>A JSON value's compact text, as the model must write it.</summary>
    private static string Compact(JsonElement value) => JsonSerializer.Serialize(value);

    /// <summary>A GBNF literal for exactly <paramref name="text"/>.</summary>
    private static string Literal(string text)
    {
        var literal = new StringBuilder("\"");
        foreach (var c in text)
        {
            literal.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => c.ToString(),
            });
        }

        return literal.Append('"').ToString();
    }
}

/// <summary>A JSON schema asks what a grammar cannot enforce; <see cref="Path"/> is where (a JSON pointer).</summary>
public sealed class JsonSchemaNotSupportedException(string message, string path) : Exception(message)
{
    public string Path { get; } = path;
}
