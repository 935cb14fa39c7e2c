using System.Numerics;

namespace Backprop.Functional;

/// <summary>Data checks shared by the runtime network and generated networks.
/// <para>Threads: no shared state: calls from several threads at once are safe, as long as no two of them write the
/// same buffers.</para></summary>
public static class Validate
{
    /// <summary>Throws if <paramref name="values"/> holds NaN or ±∞, naming the row (sample) and column (feature) of
    /// the first one. One vectorised pass in the common case.</summary>
    /// <param name="values">Row-major [rows × width].</param>
    /// <param name="width">Row width.</param>
    /// <param name="what">What the values are, for the message (e.g. "input").</param>
    /// <exception cref="ArgumentException">A value is NaN or infinite.</exception>
    public static void Finite<T>(ReadOnlySpan<T> values, int width, string what) where T : unmanaged, IFloatingPointIeee754<T> =>
        Shapes.RequireFinite(values, width, what);
}
