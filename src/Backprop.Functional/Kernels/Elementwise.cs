using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Backprop.Functional.Kernels;

/// <summary>The one driver for element-wise operators: lengths are checked once, then full vectors, then a
/// scalar tail. Written once for every operator.</summary>
internal static class Elementwise
{
    /// <summary>destination[i] = f(z[i], a[i]).</summary>
    public static void Map<TOp, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where TOp : struct, IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, destination);
        ref T zr = ref MemoryMarshal.GetReference(z);
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T dr = ref MemoryMarshal.GetReference(destination);
        int n = destination.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
                TOp.Invoke(Vector.LoadUnsafe(ref zr, (nuint)i), Vector.LoadUnsafe(ref ar, (nuint)i))
                    .StoreUnsafe(ref dr, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref dr, i) = TOp.Invoke(Unsafe.Add(ref zr, i), Unsafe.Add(ref ar, i));
    }

    /// <summary>destination[i] = upstream[i] · f(z[i], a[i]); <paramref name="upstream"/> may be
    /// <paramref name="destination"/>.</summary>
    public static void MultiplyBy<TOp, T>(ReadOnlySpan<T> upstream, ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where TOp : struct, IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, destination);
        Shapes.RequireSameLength(upstream, destination, nameof(upstream), nameof(destination));
        ref T ur = ref MemoryMarshal.GetReference(upstream);
        ref T zr = ref MemoryMarshal.GetReference(z);
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T dr = ref MemoryMarshal.GetReference(destination);
        int n = destination.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
                (Vector.LoadUnsafe(ref ur, (nuint)i) * TOp.Invoke(Vector.LoadUnsafe(ref zr, (nuint)i), Vector.LoadUnsafe(ref ar, (nuint)i)))
                    .StoreUnsafe(ref dr, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref dr, i) = Unsafe.Add(ref ur, i) * TOp.Invoke(Unsafe.Add(ref zr, i), Unsafe.Add(ref ar, i));
    }
}
