using System.Numerics;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>One flat, pooled vector in a <see cref="ParameterLayout"/>: a model's parameters θ, or its gradient
/// ∂C/∂θ. Rented once (cleared), returned on <see cref="Dispose"/>.
/// <para>Threads: one writer at a time, and no reader while it writes; concurrent reads are safe.</para></summary>
public sealed class ParameterVector<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MemoryOwner<T> _buffer;

    /// <summary>A zeroed vector for <paramref name="layout"/>.</summary>
    public ParameterVector(ParameterLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Layout = layout;
        _buffer = MemoryOwner<T>.Allocate(layout.Count, AllocationMode.Clear);
    }

    /// <summary>The layout naming the slots of this vector.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>All elements.</summary>
    public Span<T> Span => _buffer.Span;

    /// <summary>All elements, as memory (for APIs that keep a reference across an await).</summary>
    public Memory<T> Memory => _buffer.Memory;

    /// <summary>The elements of <paramref name="slot"/>.</summary>
    public Span<T> this[Slot slot] => slot.Of(_buffer.Span);

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose() => _buffer.Dispose();
}
