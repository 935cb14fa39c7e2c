using System.Globalization;
using System.Text;

namespace Backprop.Functional;

/// <summary>The compact text form of a layer list stored in a model file's metadata: one
/// <c>inputs-outputs:Activation</c> per dense layer, comma-separated, e.g. <c>784-128:ReLU,128-10:Softmax</c>.</summary>
internal static class LayerListText
{
    public static string Format(NetworkSpec spec)
    {
        var sb = new StringBuilder();
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            var d = (Dense)spec.Layers[l];
            if (l > 0) sb.Append(',');
            sb.Append(CultureInfo.InvariantCulture, $"{d.Inputs}-{d.Outputs}:{d.Activation}");
        }
        return sb.ToString();
    }

    /// <summary>Parses <paramref name="layers"/> and builds the spec; on failure returns false and says why.</summary>
    public static bool TryParse(string layers, string loss, out NetworkSpec? spec, out string error)
    {
        spec = null;
        if (!TryParseName(loss, out LossKind lossKind))
        {
            error = $"unknown loss \"{InputText.Excerpt(loss)}\" (known: {string.Join(", ", Enum.GetNames<LossKind>())})";
            return false;
        }
        if (layers.Length == 0)
        {
            error = "the layer list \"layers\" is empty";
            return false;
        }
        string[] parts = layers.Split(',');
        var list = new Layer[parts.Length];
        for (int l = 0; l < parts.Length; l++)
        {
            string part = parts[l];
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            int colon = part.IndexOf(':', StringComparison.Ordinal);
            if (dash <= 0 || colon <= dash + 1
                || !TryParseWidth(part.AsSpan(0, dash), out int inputs)
                || !TryParseWidth(part.AsSpan(dash + 1, colon - dash - 1), out int outputs))
            {
                error = $"layer {l} \"{InputText.Excerpt(part)}\" is not of the form inputs-outputs:Activation with positive widths, e.g. 784-128:ReLU";
                return false;
            }
            string activation = part[(colon + 1)..];
            if (!TryParseName(activation, out ActivationKind kind))
            {
                error = $"layer {l} has unknown activation \"{InputText.Excerpt(activation)}\" (known: {string.Join(", ", Enum.GetNames<ActivationKind>())})";
                return false;
            }
            list[l] = new Dense(inputs, outputs, kind);
        }
        try
        {
            spec = new NetworkSpec(list, lossKind);
        }
        catch (ArgumentException e)
        {
            error = $"layers \"{InputText.Excerpt(layers)}\" with loss {loss} do not form a network: {e.Message}";
            return false;
        }
        catch (OverflowException)
        {
            error = $"layers \"{InputText.Excerpt(layers)}\" have more parameters than a flat vector can index ({int.MaxValue})";
            return false;
        }
        error = "";
        return true;
    }

    private static bool TryParseWidth(ReadOnlySpan<char> text, out int width) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out width) && width > 0;

    /// <summary>Exact, case-sensitive enum names only: not numbers, not comma-joined flags.</summary>
    internal static bool TryParseName<TEnum>(string name, out TEnum value) where TEnum : struct, Enum
    {
        foreach (TEnum candidate in Enum.GetValues<TEnum>())
            if (string.Equals(candidate.ToString(), name, StringComparison.Ordinal))
            {
                value = candidate;
                return true;
            }
        value = default;
        return false;
    }
}
