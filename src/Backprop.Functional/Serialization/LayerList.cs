using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Backprop.Functional;

/// <summary>The text form of a layer list, as model files store it and the CLI's <c>--layers</c> takes it: layers
/// joined by <c>,</c>; a dense layer as <c>inputs-outputs:Activation</c> (<c>784-128:ReLU</c>, the form every model
/// file has used), any other kind as <c>Kind(arguments)</c> (<c>Gain(128)</c>; <c>Dense(784-128:ReLU)</c> is read too).
/// <para>Threads: no shared state.</para></summary>
public static class LayerList
{
    /// <summary>The list's text, e.g. <c>784-128:ReLU,Gain(128),128-10:Softmax</c>: dense layers in their short form.</summary>
    /// <exception cref="ArgumentException">A kind's name or arguments would not read back (the layer is named).</exception>
    public static string Format(IReadOnlyList<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var sb = new StringBuilder();
        for (int l = 0; l < layers.Count; l++)
        {
            if (l > 0) sb.Append(',');
            var layer = layers[l];
            if (layer is Dense d) sb.Append(DenseKernel.Format(d));
            else
            {
                string arguments = layer.FormatArguments();
                if (arguments.AsSpan().IndexOfAny(",()") >= 0 || layer.Kind.AsSpan().IndexOfAny(",():-") >= 0 || layer.Kind.Length == 0)
                    throw new ArgumentException($"layer {l} ({layer.Kind}) formats as {layer.Kind}({arguments}), which a layer list cannot hold: a kind is a name and its arguments hold no ',', '(' or ')'", nameof(layers));
                sb.Append(layer.Kind).Append('(').Append(arguments).Append(')');
            }
        }
        return sb.ToString();
    }

    /// <summary>Parses a layer list with the kinds of <paramref name="catalog"/>; false with a one-line reason naming
    /// the layer. The layers are not checked to chain (<see cref="NetworkSpec"/> does that).</summary>
    public static bool TryParse(string text, LayerCatalog catalog, [NotNullWhen(true)] out IReadOnlyList<Layer>? layers, out string error)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(catalog);
        layers = null;
        if (text.Length == 0)
        {
            error = "the layer list is empty";
            return false;
        }
        string[] parts = text.Split(',');
        var list = new Layer[parts.Length];
        for (int l = 0; l < parts.Length; l++)
        {
            string part = parts[l];
            int open = part.IndexOf('(', StringComparison.Ordinal);
            if (open > 0 && part.EndsWith(')'))
            {
                string kind = part[..open];
                if (!catalog.TryParse(kind, part[(open + 1)..^1], out var layer, out string reason))
                {
                    error = catalog.Contains(kind) ? $"layer {l} ({kind}): {reason}" : $"layer {l}: {reason}";
                    return false;
                }
                list[l] = layer;
            }
            else if (DenseKernel.TryParse(part, out var dense, out string reason))
            {
                list[l] = dense;
            }
            else
            {
                error = $"layer {l}: {reason}";
                return false;
            }
        }
        layers = list;
        error = "";
        return true;
    }
}
