using System.Numerics;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>A pooled, cleared buffer of T for batch copies: rented once, returned on dispose.</summary>
internal sealed class BatchBuffer<T>(int length) : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MemoryOwner<T> _buffer = MemoryOwner<T>.Allocate(length, AllocationMode.Clear);

    public Span<T> Span => _buffer.Span;

    public void Dispose() => _buffer.Dispose();
}
