namespace Backprop.Functional;

/// <summary>A model file's layer list and loss as text (<see cref="LayerList"/>), and the spec they form.</summary>
internal static class LayerListText
{
    public static string Format(NetworkSpec spec) => LayerList.Format(spec.Layers);

    /// <summary>Parses <paramref name="layers"/> and builds the spec; on failure returns false and says why.</summary>
    public static bool TryParse(string layers, string loss, out NetworkSpec? spec, out string error, LayerCatalog? catalog = null)
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
        if (!LayerList.TryParse(layers, catalog ?? LayerCatalog.Default, out var list, out error))
            return false;
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
