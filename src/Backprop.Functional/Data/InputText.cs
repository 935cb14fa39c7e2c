using System.Globalization;

namespace Backprop.Functional;

/// <summary>Text quoted from an input file in an error message, cut so that the message stays readable: a field,
/// a header or a layer list can be megabytes long.</summary>
internal static class InputText
{
    /// <summary>Characters of quoted text kept in a message.</summary>
    public const int MaxQuoted = 120;

    /// <summary><paramref name="text"/> itself when short, else its first <see cref="MaxQuoted"/> characters and
    /// how long it is, e.g. <c>1-1:Identity,1-1:Iden… (60000 characters)</c>.</summary>
    public static string Excerpt(string text) =>
        text.Length <= MaxQuoted ? text
        : string.Create(CultureInfo.InvariantCulture, $"{text.AsSpan(0, char.IsHighSurrogate(text[MaxQuoted - 1]) ? MaxQuoted - 1 : MaxQuoted)}… ({text.Length} characters)");
}
