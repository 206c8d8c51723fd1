using System;
using System.Collections.Generic;

namespace Jsonic.Linq;

/// <summary>
/// Represents a JSON object.
/// </summary>
[Serializable]
public partial class JObject : JContainer, IDictionary<string, JToken>
{
    private readonly Dictionary<string, JToken> _properties = new();

    public JObject()
    {
    }

    /// <summary>Gets the number of properties.</summary>
    public int Count => _properties.Count;

    public JToken this[string name]
    {
        get => _properties[name];
        set
        {
            ValidateToken(value);
            _properties[name] = value;
        }
    }

    public static JObject Parse(string json)
    {
        using var reader = new JsonTextReader(new StringReader(json));
        return Load(reader);
    }

    public override bool Equals(object? other) => other is JObject o && DeepEquals(o);

    public event EventHandler? Changed;

    private sealed class PropertyComparer : IEqualityComparer<JToken>
    {
        public bool Equals(JToken? x, JToken? y) => ReferenceEquals(x, y);
        public int GetHashCode(JToken obj) => obj.GetHashCode();
    }
}

public interface IJsonLineInfo
{
    bool HasLineInfo();
}

public record struct JsonPosition(int Line, int Column);

public enum JTokenType { None, Object, Array }

public delegate void JsonHandler(object sender);

internal static class Extensions
{
    public static T Value<T>(this JToken token) where T : class => token as T;
}
