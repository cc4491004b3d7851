using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using System.Text.RegularExpressions;
using MeatLizard.Application.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// The readable properties of a statement's parameter object (an anonymous type in a repository), each read by a
/// delegate compiled once per type. <see cref="PropertyInfo.GetValue(object)"/> goes through reflection's invoker on
/// every call, and a <c>/v1</c> completion binds about 170 parameters.
/// </summary>
internal static class ParameterReaders
{
    private static readonly ConcurrentDictionary<Type, ParameterReader[]> Readers = new();

    // Statements are fixed strings in the repositories, so this stays small; the bound only keeps SQL built at run time
    // (were there any) from growing it without end.
    private const int MostStatementsKept = 4096;

    private static readonly CountedMap<(string Sql, Type Type), ParameterReader[]> Mentioned = new();

    public static ParameterReader[] Of(Type type) => Readers.GetOrAdd(type, Build);

    /// <summary>The properties of <paramref name="type"/> that <paramref name="sql"/> names as parameters
    /// (<c>@Name</c>, <c>:Name</c> or <c>$Name</c>): only those are bound.</summary>
    public static ParameterReader[] MentionedIn(string sql, Type type)
    {
        if (Mentioned.TryGetValue((sql, type), out var readers))
        {
            return readers;
        }

        readers = Of(type).Where(reader => Mentions(sql, reader.Name)).ToArray();
        if (Mentioned.Count < MostStatementsKept)
        {
            Mentioned.TryAdd((sql, type), readers);
        }

        return readers;
    }

    private static bool Mentions(string sql, string name) =>
        Regex.IsMatch(sql, "[@:$]" + Regex.Escape(name) + "(?![A-Za-z0-9_])", RegexOptions.CultureInvariant);

    private static ParameterReader[] Build(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0)
            .Select(p => new ParameterReader(p, Compile(type, p)))
            .ToArray();

    private static Func<object, object?> Compile(Type type, PropertyInfo property)
    {
        var instance = Expression.Parameter(typeof(object), "parameters");
        var read = Expression.Property(Expression.Convert(instance, type), property);
        return Expression.Lambda<Func<object, object?>>(Expression.Convert(read, typeof(object)), instance).Compile();
    }
}

/// <summary>One property of a parameter object, and the compiled read of its value.</summary>
internal sealed record ParameterReader(PropertyInfo Property, Func<object, object?> Read)
{
    public string Name => Property.Name;
}
