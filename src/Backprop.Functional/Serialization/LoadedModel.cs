using System.Numerics;

namespace Backprop.Functional;

/// <summary>A model read from a file by <see cref="ModelFile.Load{T}(string, LayerCatalog?)"/>: its description, its flat parameter
/// vector θ in <see cref="NetworkSpec.Layout"/> order, and the caller's metadata.
/// <para>Threads: immutable by convention (nothing in the library writes <see cref="Parameters"/> after loading); safe
/// to share for reading.</para></summary>
/// <param name="Spec">The layers and cost, rebuilt from the file's <c>__metadata__</c>.</param>
/// <param name="Parameters">θ, <c>Spec.Layout.Count</c> finite elements.</param>
/// <param name="Metadata">The metadata given to <see cref="ModelFile.Save{T}(string, NetworkSpec, ReadOnlySpan{T}, IReadOnlyDictionary{string, string}?)"/>,
/// without the reserved keys <c>format</c>, <c>layers</c> and <c>loss</c>.</param>
/// <remarks>Record equality compares <paramref name="Parameters"/> and <paramref name="Metadata"/> by reference,
/// not element by element.</remarks>
public sealed record LoadedModel<T>(NetworkSpec Spec, T[] Parameters, IReadOnlyDictionary<string, string> Metadata)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A runtime network with a copy of <see cref="Parameters"/>.</summary>
    public Network<T> ToNetwork() => Network<T>.FromParameters(Spec, Parameters);
}
