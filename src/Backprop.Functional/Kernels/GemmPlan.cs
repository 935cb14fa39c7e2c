using System.Globalization;

namespace Backprop.Functional.Kernels;

/// <summary>The kernel a product runs on, chosen by <see cref="Gemm.Plan{T}"/> from its shape.</summary>
public enum GemmKernel : byte
{
    /// <summary>m = 0 or n = 0: C is empty, nothing runs.</summary>
    Empty,

    /// <summary>k = 0: C ← 0 (or left as it is when accumulating).</summary>
    Zero,

    /// <summary>A·Bᵀ with a shallow k: B is transposed into scratch (k·n values), then the axpy tiles run.</summary>
    TransposeThenAxpy,

    /// <summary>A·Bᵀ on the direct dot-product tiles (B re-read from cache per four rows of A).</summary>
    DotTiles,

    /// <summary>op(A)·B on the direct axpy tiles (C in registers over k).</summary>
    AxpyTiles,

    /// <summary>A small product on the direct vectorised loop, one thread.</summary>
    Direct,

    /// <summary>The packed, cache-blocked, register-blocked kernel (GotoBLAS/BLIS layout).</summary>
    Packed,
}

/// <summary>
/// One product's shape and the kernel it runs on, decided once by <see cref="Gemm.Plan{T}"/> and reused by
/// <see cref="Gemm.Multiply{T}(in GemmPlan, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, bool)"/>: a layer whose batch does not
/// change keeps its three products' plans in its <see cref="Workspace{T}"/> and runs none of the decision tree per call.
/// A plan gives the same bits as the unplanned <see cref="Gemm.Multiply{T}(ReadOnlySpan{T}, bool, ReadOnlySpan{T}, bool, Span{T}, int, int, int, bool, int)"/>
/// on the same shape and threads: that call is "plan, then run".
/// </summary>
public readonly record struct GemmPlan
{
    internal GemmPlan(int m, int n, int k, bool transposeA, bool transposeB, int threads, GemmKernel kernel, int team, int elementSize)
    {
        M = m; N = n; K = k; TransposeA = transposeA; TransposeB = transposeB; Threads = threads;
        Kernel = kernel; Team = team; ElementSize = elementSize;
    }

    /// <summary>Rows of op(A) and C.</summary>
    public int M { get; }

    /// <summary>Columns of op(B) and C.</summary>
    public int N { get; }

    /// <summary>Columns of op(A), rows of op(B).</summary>
    public int K { get; }

    /// <summary>Whether op(A) = Aᵀ.</summary>
    public bool TransposeA { get; }

    /// <summary>Whether op(B) = Bᵀ.</summary>
    public bool TransposeB { get; }

    /// <summary>The threads the plan was made for (the caller's limit).</summary>
    public int Threads { get; }

    /// <summary>The kernel the product runs on.</summary>
    public GemmKernel Kernel { get; }

    /// <summary>Threads the product is split over when the pool is free (1: the calling thread alone).</summary>
    public int Team { get; }

    /// <summary>Bytes per element of the type the plan was made for (4 float, 8 double; 0: not made by <see cref="Gemm.Plan{T}"/>).</summary>
    public int ElementSize { get; }

    /// <summary>Whether this plan is for this product, threads and element size (a default plan fits none).</summary>
    internal bool Fits(int m, int n, int k, bool transposeA, bool transposeB, int threads, int elementSize) =>
        M == m && N == n && K == k && TransposeA == transposeA && TransposeB == transposeB && Threads == threads && ElementSize == elementSize;

    /// <summary>e.g. <c>op(A)[64 × 784]·op(B)ᵀ[784 × 128]: DotTiles, 2 threads</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"op(A){(TransposeA ? "ᵀ" : "")}[{M} × {K}]·op(B){(TransposeB ? "ᵀ" : "")}[{K} × {N}]: {Kernel}, {Team} thread{(Team == 1 ? "" : "s")}");
}
