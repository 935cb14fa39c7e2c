using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Backprop.Functional;

/// <summary>Quadratic cost: Cₓ = ½‖y − a‖²; ∇ₐCₓ = a − y. Fits any output; computed from aᴸ (it has no logit form).
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
public readonly struct Quadratic : ILoss
{
    /// <summary>Elements summed in T (vector lanes) before the partial sum joins the double total.</summary>
    private const int Block = 256;

    /// <inheritdoc/>
    public static LossKind Kind => LossKind.Quadratic;

    /// <inheritdoc/>
    public static bool Fits(ActivationKind output) => true;

    /// <inheritdoc/>
    public static T Cost<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        Shapes.RequireRows(a.Length, width, nameof(a));
        return HalfSum(a, y);
    }

    /// <summary>Σ ½(aᵢ − yᵢ)² over every element of <paramref name="a"/> (the same as <see cref="Cost{TAct, T}"/>).</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static T CostFromOutputs<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        return HalfSum(a, y);
    }

    /// <inheritdoc/>
    public static void Gradient<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(a, y, destination);

    /// <inheritdoc/>
    /// <remarks>∂²Cₓ/∂aⱼ² = 1.</remarks>
    public static void SecondDerivative<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, destination);
        destination.Fill(T.One);
    }

    /// <inheritdoc/>
    public static void OutputError<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> delta, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        Gradient(a, y, delta);
        Equations.OutputError<TAct, T>(delta, z, a, delta, width);
    }

    /// <summary>½Σ(a − y)²: each block summed in T (vector lanes), the blocks in double.</summary>
    private static T HalfSum<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double total = 0;
        for (int r = 0; r < a.Length; r += Block)
        {
            int n = Math.Min(Block, a.Length - r);
            total += double.CreateTruncating(SumOfSquaredDifferences(a.Slice(r, n), y.Slice(r, n)));
        }
        return T.CreateTruncating(total / 2);
    }

    private static T SumOfSquaredDifferences<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T yr = ref MemoryMarshal.GetReference(y);
        int n = a.Length, i = 0;
        T sum = T.Zero;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<T>.Count)
        {
            var acc = Vector<T>.Zero;
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
            {
                var d = Vector.LoadUnsafe(ref ar, (nuint)i) - Vector.LoadUnsafe(ref yr, (nuint)i);
                acc += d * d;
            }
            sum = Vector.Sum(acc);
        }
        for (; i < n; i++)
        {
            T d = Unsafe.Add(ref ar, i) - Unsafe.Add(ref yr, i);
            sum += d * d;
        }
        return sum;
    }
}
