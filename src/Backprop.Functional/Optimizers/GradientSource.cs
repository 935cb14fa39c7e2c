using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Backprop.Functional;

/// <summary>Where an optimizer's update loop reads gᵢ from: a stored gradient, or a gradient formed on the fly
/// (<see cref="OuterProductRow{T}"/>). The update loops are generic over it, so both run the same operations.</summary>
/// <typeparam name="T">The element type.</typeparam>
internal interface IGradientSource<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>gᵢ … gᵢ₊W₋₁ as one vector.</summary>
    Vector<T> Vector(int i);

    /// <summary>gᵢ.</summary>
    T Scalar(int i);
}

/// <summary>A gradient already in memory.</summary>
internal readonly ref struct StoredGradient<T>(ReadOnlySpan<T> g) : IGradientSource<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ref T _g = ref MemoryMarshal.GetReference(g);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<T> Vector(int i) => System.Numerics.Vector.LoadUnsafe(ref _g, (nuint)i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Scalar(int i) => Unsafe.Add(ref _g, i);
}

/// <summary>
/// Row r of BP4 for a batch of one row, ∂C/∂W[r, j] = δᵣ·aⱼ (the outer product δ(aˡ⁻¹)ᵀ of
/// <see cref="Equations.WeightGradient{T}"/> when the batch has one row), formed in a register as the update reads it
/// and never stored: the update needs no pass that writes ∂C/∂W and reads it back.
/// </summary>
/// <param name="delta">δᵣ.</param>
/// <param name="input">aˡ⁻¹, one row of the layer's input.</param>
internal readonly ref struct OuterProductRow<T>(T delta, ReadOnlySpan<T> input) : IGradientSource<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _delta = delta;
    private readonly ref T _a = ref MemoryMarshal.GetReference(input);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<T> Vector(int i) => new Vector<T>(_delta) * System.Numerics.Vector.LoadUnsafe(ref _a, (nuint)i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Scalar(int i) => _delta * Unsafe.Add(ref _a, i);
}
