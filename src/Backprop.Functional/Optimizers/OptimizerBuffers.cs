using System.Numerics;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>
/// The per-parameter state vectors of an optimizer (Adam's m and v, momentum's velocity, …):
/// <see cref="Count"/> moment vectors of <see cref="Length"/> elements each, rented once as one
/// contiguous, zero-initialised pooled block.
/// <para>Threads: one update at a time; one set of buffers per training run.</para>
/// </summary>
/// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Create it with <see cref="GradientTransform.CreateBuffers{T}(int)"/>, which also applies optimizer-specific
/// initial values (e.g. Adagrad's initial accumulator value). Buffers belong together with the
/// <see cref="OptimizerState"/> they were updated with; dispose them to return the memory to the pool.
/// </remarks>
public sealed class OptimizerBuffers<T> : IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MemoryOwner<T> owner;
    private readonly int stride, start, firstMoment;
    private readonly bool ownsMemory = true;
    private OptimizerBuffers<T>? low, high;
    private OptimizerBuffers<T>[]? shares;
    private OptimizerBuffers<T>[]? ranges;

    /// <summary>Rents <paramref name="count"/> zeroed moment vectors of <paramref name="length"/> elements.</summary>
    /// <param name="count">Number of moment vectors (may be 0).</param>
    /// <param name="length">Elements per moment vector: the number of parameters.</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative argument.</exception>
    /// <exception cref="OverflowException"><paramref name="count"/> × <paramref name="length"/> overflows <see cref="int"/>.</exception>
    public OptimizerBuffers(int count, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        owner = MemoryOwner<T>.Allocate(checked(count * length), AllocationMode.Clear);
        Count = count;
        Length = length;
        stride = length;
    }

    /// <summary>A view of elements [offset, offset + length) of moments [first, first + count) of <paramref name="parent"/>.</summary>
    private OptimizerBuffers(OptimizerBuffers<T> parent, int offset, int length, int first, int count)
    {
        owner = parent.owner;
        stride = parent.stride;
        start = parent.start + offset;
        firstMoment = parent.firstMoment + first;
        Count = count;
        Length = length;
        ownsMemory = false;
    }

    /// <summary>The view of moments [first, first + count) over every element: a chain member's share of the chain's
    /// buffers. Created once per share and cached, so a steady-state step allocates nothing; all of them when they
    /// are all asked for.</summary>
    internal OptimizerBuffers<T> Moments(int first, int count)
    {
        if (first == 0 && count == Count) return this;
        if ((uint)first > (uint)Count || (uint)count > (uint)(Count - first))
            throw new ArgumentException($"moments {first}..{first + count - 1} are outside these buffers' {Count}; create them with the chain's CreateBuffers");
        if (shares is not null)
        {
            foreach (var share in shares)
                if (share.firstMoment == firstMoment + first && share.Count == count) return share;
        }
        var view = new OptimizerBuffers<T>(this, 0, Length, first, count);
        shares = shares is null ? [view] : [.. shares, view];
        return view;
    }

    /// <summary>Two views, elements [0, split) and [split, Length) of every moment, for updating the two halves of
    /// θ on two threads. Created once per split point and cached, so a steady-state step allocates nothing.</summary>
    internal (OptimizerBuffers<T> Low, OptimizerBuffers<T> High) Halves(int split)
    {
        if (low is null || low.Length != split)
        {
            low = new OptimizerBuffers<T>(this, 0, split, 0, Count);
            high = new OptimizerBuffers<T>(this, split, Length - split, 0, Count);
        }
        return (low, high!);
    }

    /// <summary>The view of elements [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>)
    /// of every moment: one layer's share, for an update run layer by layer (<see cref="TrainingStep"/>). Created once
    /// per range and cached, so a steady-state step allocates nothing.</summary>
    internal OptimizerBuffers<T> Range(int offset, int length)
    {
        if (offset == 0 && length == Length) return this;
        if ((uint)offset > (uint)Length || (uint)length > (uint)(Length - offset))
            throw new ArgumentOutOfRangeException(nameof(offset), $"elements {offset}..{offset + length - 1} are outside these buffers' {Length}");
        if (ranges is not null)
        {
            foreach (var range in ranges)
                if (range.start == start + offset && range.Length == length) return range;
        }
        var view = new OptimizerBuffers<T>(this, offset, length, 0, Count);
        ranges = ranges is null ? [view] : [.. ranges, view];
        return view;
    }

    /// <summary>Number of moment vectors.</summary>
    public int Count { get; }

    /// <summary>Number of elements in each moment vector (equals the parameter count).</summary>
    public int Length { get; }

    /// <summary>The <paramref name="i"/>-th moment vector, a view into the pooled block.</summary>
    /// <param name="i">Zero-based index, <c>0 ≤ i &lt; Count</c>.</param>
    /// <returns>A span of <see cref="Length"/> elements.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="i"/> is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The buffers were disposed.</exception>
    public Span<T> Moment(int i)
    {
        if ((uint)i >= (uint)Count)
        {
            ThrowMomentOutOfRange(i, Count);
        }

        return owner.Span.Slice((firstMoment + i) * stride + start, Length);
    }

    /// <summary>Returns the pooled block; the moment spans must not be used afterwards.</summary>
    public void Dispose()
    {
        if (ownsMemory) owner.Dispose();
    }

    private static void ThrowMomentOutOfRange(int i, int count) =>
        throw new ArgumentOutOfRangeException(nameof(i), i, $"moment index {i} is outside 0..{count - 1}");
}
