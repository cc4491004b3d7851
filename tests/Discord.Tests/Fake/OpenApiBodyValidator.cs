using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MeatLizard.Discord.Tests.Fake;

/// <summary>
/// Checks a request body against the JSON Schema of Discord's OpenAPI spec for its route, after the normalisation
/// PROTOCOL.md describes (permission bitsets sent as strings are read as integers). Covers the keywords the spec
/// uses: $ref, type, properties, required, additionalProperties, items, oneOf/anyOf/allOf, enum, const,
/// min/maxLength, minimum/maximum, min/maxItems, pattern. Properties the schema does not name are reported too,
/// so a misspelt field cannot pass unnoticed.
/// </summary>
public sealed class OpenApiBodyValidator
{
    private static readonly string[] s_bitsetFields = ["allow", "deny", "default_member_permissions"];

    private readonly JsonElement _root;
    private readonly JsonElement _paths;

    private OpenApiBodyValidator(JsonDocument document)
    {
        _root = document.RootElement;
        _paths = _root.GetProperty("paths");
    }

    public static OpenApiBodyValidator Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Spec", "openapi.json");
        return new OpenApiBodyValidator(JsonDocument.Parse(File.ReadAllBytes(path)));
    }

    /// <summary>The problems found (empty when the body conforms).</summary>
    public IReadOnlyList<string> Validate(string method, string pathTemplate, string json)
    {
        if (!_paths.TryGetProperty(pathTemplate, out var path) || !path.TryGetProperty(method.ToLowerInvariant(), out var operation))
        {
            return [$"{method} {pathTemplate} is not in the spec"];
        }

        if (!operation.TryGetProperty("requestBody", out var requestBody))
        {
            return [$"{method} {pathTemplate} takes no body in the spec"];
        }

        var schema = requestBody.GetProperty("content").GetProperty("application/json").GetProperty("schema");
        var node = JsonNode.Parse(json);
        Normalise(node);
        using var normalised = JsonDocument.Parse(node?.ToJsonString() ?? "null");
        var errors = new List<string>();
        Check(schema, normalised.RootElement, "$", errors, strict: true);
        return errors.Select(e => $"{method} {pathTemplate}: {e}").ToList();
    }

    private static void Normalise(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var name in s_bitsetFields)
                {
                    if (obj[name] is JsonValue value && value.TryGetValue<string>(out var text)
                        && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bits))
                    {
                        obj[name] = bits;
                    }
                }

                foreach (var (_, child) in obj.ToList())
                {
                    Normalise(child);
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    Normalise(child);
                }

                break;
        }
    }

    private JsonElement Resolve(JsonElement schema)
    {
        while (schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("$ref", out var reference))
        {
            var current = _root;
            foreach (var part in reference.GetString()!.TrimStart('#', '/').Split('/'))
            {
                current = current.GetProperty(part);
            }

            schema = current;
        }

        return schema;
    }

    private bool Matches(JsonElement schema, JsonElement value, bool strict)
    {
        var errors = new List<string>();
        Check(schema, value, "$", errors, strict);
        return errors.Count == 0;
    }

    private void Check(JsonElement schema, JsonElement value, string at, List<string> errors, bool strict)
    {
        schema = Resolve(schema);
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (schema.TryGetProperty("type", out var type) && !TypeMatches(type, value))
        {
            errors.Add($"{at}: {Describe(value)} is not of type {type.GetRawText()}");
            return;
        }

        if (schema.TryGetProperty("const", out var constant) && !JsonElement.DeepEquals(constant, value))
        {
            errors.Add($"{at}: {value.GetRawText()} is not {constant.GetRawText()}");
        }

        if (schema.TryGetProperty("enum", out var choices) && !choices.EnumerateArray().Any(c => JsonElement.DeepEquals(c, value)))
        {
            errors.Add($"{at}: {value.GetRawText()} is not one of {choices.GetRawText()}");
        }

        if (schema.TryGetProperty("allOf", out var allOf))
        {
            foreach (var part in allOf.EnumerateArray())
            {
                Check(part, value, at, errors, strict: false);
            }

            if (strict && value.ValueKind == JsonValueKind.Object)
            {
                CheckUnknown(allOf.EnumerateArray().Append(schema), value, at, errors);
            }
        }

        if (schema.TryGetProperty("oneOf", out var oneOf))
        {
            var matching = oneOf.EnumerateArray().Count(option => Matches(option, value, strict));
            if (matching != 1)
            {
                errors.Add($"{at}: {Describe(value)} matches {matching} of the oneOf options (needs exactly one)");
            }
        }

        if (schema.TryGetProperty("anyOf", out var anyOf) && !anyOf.EnumerateArray().Any(option => Matches(option, value, strict)))
        {
            errors.Add($"{at}: {Describe(value)} matches none of the anyOf options");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                var text = value.GetString()!;
                if (schema.TryGetProperty("maxLength", out var maxLength) && text.Length > maxLength.GetInt32())
                {
                    errors.Add($"{at}: longer than {maxLength.GetInt32()} characters");
                }

                if (schema.TryGetProperty("minLength", out var minLength) && text.Length < minLength.GetInt32())
                {
                    errors.Add($"{at}: shorter than {minLength.GetInt32()} characters");
                }

                if (schema.TryGetProperty("pattern", out var pattern) && !Regex.IsMatch(text, pattern.GetString()!))
                {
                    errors.Add($"{at}: '{text}' does not match {pattern.GetString()}");
                }

                break;
            case JsonValueKind.Number:
                var number = value.GetDouble();
                if (schema.TryGetProperty("minimum", out var minimum) && number < minimum.GetDouble())
                {
                    errors.Add($"{at}: {number} is below {minimum.GetDouble()}");
                }

                if (schema.TryGetProperty("maximum", out var maximum) && number > maximum.GetDouble())
                {
                    errors.Add($"{at}: {number} is above {maximum.GetDouble()}");
                }

                break;
            case JsonValueKind.Array:
                var count = value.GetArrayLength();
                if (schema.TryGetProperty("maxItems", out var maxItems) && count > maxItems.GetInt32())
                {
                    errors.Add($"{at}: more than {maxItems.GetInt32()} items");
                }

                if (schema.TryGetProperty("minItems", out var minItems) && count < minItems.GetInt32())
                {
                    errors.Add($"{at}: fewer than {minItems.GetInt32()} items");
                }

                if (schema.TryGetProperty("items", out var items))
                {
                    var i = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        Check(items, item, $"{at}[{i++}]", errors, strict);
                    }
                }

                break;
            case JsonValueKind.Object:
                if (schema.TryGetProperty("required", out var required))
                {
                    foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
                    {
                        if (!value.TryGetProperty(name, out _))
                        {
                            errors.Add($"{at}: '{name}' is required");
                        }
                    }
                }

                var properties = schema.TryGetProperty("properties", out var p) ? p : default;
                foreach (var property in value.EnumerateObject())
                {
                    if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
                    {
                        Check(propertySchema, property.Value, $"{at}.{property.Name}", errors, strict: true);
                    }
                    else if (schema.TryGetProperty("additionalProperties", out var additional))
                    {
                        if (additional.ValueKind == JsonValueKind.False)
                        {
                            errors.Add($"{at}: '{property.Name}' is not allowed");
                        }
                        else if (additional.ValueKind == JsonValueKind.Object)
                        {
                            Check(additional, property.Value, $"{at}.{property.Name}", errors, strict: true);
                        }
                    }
                    else if (strict && properties.ValueKind == JsonValueKind.Object && !schema.TryGetProperty("allOf", out _))
                    {
                        errors.Add($"{at}: '{property.Name}' is not a field the spec knows");
                    }
                }

                break;
        }
    }

    private void CheckUnknown(IEnumerable<JsonElement> schemas, JsonElement value, string at, List<string> errors)
    {
        var known = new HashSet<string>();
        foreach (var schema in schemas.Select(Resolve))
        {
            if (schema.TryGetProperty("properties", out var properties))
            {
                known.UnionWith(properties.EnumerateObject().Select(p => p.Name));
            }
        }

        errors.AddRange(value.EnumerateObject().Where(p => !known.Contains(p.Name))
            .Select(p => $"{at}: '{p.Name}' is not a field the spec knows"));
    }

    private static bool TypeMatches(JsonElement type, JsonElement value) =>
        type.ValueKind == JsonValueKind.Array
            ? type.EnumerateArray().Any(t => TypeMatches(t.GetString()!, value))
            : TypeMatches(type.GetString()!, value);

    private static bool TypeMatches(string type, JsonElement value) => type switch
    {
        "null" => value.ValueKind == JsonValueKind.Null,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "string" => value.ValueKind == JsonValueKind.String,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _) || value.ValueKind == JsonValueKind.Number && value.TryGetUInt64(out _),
        "number" => value.ValueKind == JsonValueKind.Number,
        "array" => value.ValueKind == JsonValueKind.Array,
        "object" => value.ValueKind == JsonValueKind.Object,
        _ => true,
    };

    private static string Describe(JsonElement value)
    {
        var raw = value.GetRawText();
        return raw.Length > 80 ? raw[..80] + "…" : raw;
    }
}
