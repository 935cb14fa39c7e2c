using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;

namespace Backprop.Functional;

/// <summary>The layer kinds a layer list may name, by <see cref="ILayerKernel{TLayer}.Kind"/>: what
/// <see cref="ModelFile.Load{T}(string, LayerCatalog?)"/> and <see cref="LayerList.TryParse"/> can rebuild. Each entry
/// is the kind's static <see cref="ILayerKernel{TLayer}.TryParse"/>, captured when the kind is added: no type is looked
/// up by name, so it works under NativeAOT.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <example><c>ModelFile.Load&lt;float&gt;(path, LayerCatalog.Default.With&lt;Gain, GainKernel&gt;())</c></example>
public sealed record LayerCatalog
{
    private delegate bool Parser(string arguments, out Layer? layer, out string reason);

    private readonly ImmutableArray<(string Kind, Parser Parse)> _entries;

    private LayerCatalog(ImmutableArray<(string, Parser)> entries) => _entries = entries;

    /// <summary>The built-in kinds: <see cref="Dense"/>, <see cref="Rnn"/>, <see cref="Lstm"/>, <see cref="Gru"/>, <see cref="OdeBlock"/>.</summary>
    public static LayerCatalog Default { get; } = new LayerCatalog(ImmutableArray<(string, Parser)>.Empty)
        .With<Dense, DenseKernel>().With<Rnn, RnnKernel>().With<Lstm, LstmKernel>().With<Gru, GruKernel>().With<OdeBlock, OdeBlockKernel>();

    /// <summary>This catalog and the kind <typeparamref name="TLayer"/> (replacing a kind of the same name).</summary>
    public LayerCatalog With<TLayer, TKernel>()
        where TLayer : Layer<TLayer, TKernel> where TKernel : struct, ILayerKernel<TLayer>
    {
        Parser parse = static (string arguments, out Layer? layer, out string reason) =>
        {
            bool ok = TKernel.TryParse(arguments, out TLayer? typed, out reason);
            layer = typed;
            return ok;
        };
        var entries = _entries;
        for (int i = 0; i < entries.Length; i++)
            if (entries[i].Kind == TKernel.Kind) return new LayerCatalog(entries.SetItem(i, (TKernel.Kind, parse)));
        return new LayerCatalog(entries.Add((TKernel.Kind, parse)));
    }

    /// <summary>The kinds' names, in the order they were added.</summary>
    public IEnumerable<string> Kinds
    {
        get
        {
            foreach (var (kind, _) in _entries) yield return kind;
        }
    }

    /// <summary>Whether <paramref name="kind"/> is in the catalog.</summary>
    public bool Contains(string kind)
    {
        foreach (var (k, _) in _entries)
            if (string.Equals(k, kind, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>Builds a layer of <paramref name="kind"/> from its arguments; false with a one-line reason (naming the
    /// catalog's kinds when the kind is not in it).</summary>
    public bool TryParse(string kind, string arguments, [NotNullWhen(true)] out Layer? layer, out string reason)
    {
        foreach (var (k, parse) in _entries)
            if (string.Equals(k, kind, StringComparison.Ordinal))
                return parse(arguments, out layer, out reason) && layer is not null;
        layer = null;
        reason = $"unknown layer kind \"{InputText.Excerpt(kind)}\" (known: {string.Join(", ", Kinds)})";
        return false;
    }

    /// <summary>Value equality: the same kinds in the same order.</summary>
    public bool Equals(LayerCatalog? other) => other is not null && Kinds.SequenceEqual(other.Kinds);

    /// <inheritdoc/>
    public override int GetHashCode() => _entries.Length;

    /// <summary>The kinds, e.g. <c>LayerCatalog { Dense, Gain }</c>.</summary>
    public override string ToString() => $"LayerCatalog {{ {string.Join(", ", Kinds)} }}";
}
