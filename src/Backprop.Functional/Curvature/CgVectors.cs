using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The vector work of one conjugate-gradient iteration in three fused passes over the n unknowns, where the
/// textbook sequence of BLAS-1 calls makes nine (23 reads and writes of an n-vector; 15 here). On a network's θ these
/// vectors are megabytes, so an iteration's vector work is memory traffic, and it was a third of a Hessian-free update
/// on two threads (Martens' 784-1000-500-250-30 autoencoder: 10 ms of vector work against 10 ms for a Gv product on
/// 100 rows).
/// <para>Each pass walks fixed chunks of <see cref="Chunk"/> elements. Inside a chunk the element-wise operations are
/// the same <see cref="TensorPrimitives"/> calls as before, so d, r, z and p get the same values element by element; a
/// chunk's dot products are taken in <typeparamref name="T"/> over its few thousand elements (in cache) and added in
/// double in chunk order. The sums therefore do not depend on how many threads ran the chunks: one or two threads give
/// the same bits. With two threads and n ≥ <see cref="ParallelMinimum"/> a GEMM pool worker runs the upper half of the
/// chunks (the caller the lower), each core streaming its own half of every vector.</para>
/// <para>Threads: one solve at a time. Allocation: the partial sums are allocated in the constructor.</para></summary>
internal sealed class CgVectors<T> : Gemm.Pool.Job where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Elements per chunk: 8,192 (32 KB of float per vector, so the nine vectors of the second pass stay in
    /// one core's L2 while a chunk is worked on).</summary>
    internal const int Chunk = 1 << 13;

    /// <summary>Below this many unknowns the passes stay on the calling thread.</summary>
    internal const int ParallelMinimum = 1 << 17;

    private readonly double[] _partials;   // [chunks × 3]
    private readonly int _n, _chunks, _threads;
    private Pass _pass;
    private unsafe T* _p, _bp, _d, _r, _m, _z, _b;
    private T _scalar;
    private bool _residualDot = true;
    private Exception? _error;

    /// <summary>Passes over vectors of <paramref name="dimension"/> values on up to <paramref name="threads"/> threads
    /// (one or two are used).</summary>
    internal CgVectors(int dimension, int threads)
    {
        _n = dimension;
        _chunks = (dimension + Chunk - 1) / Chunk;
        _partials = new double[checked(_chunks * 3)];
        _threads = threads;   // the pool adds at most one worker
    }

    private enum Pass { Curvature, Advance, Direction, Dot }

    /// <summary>Bp ← Bp + λp, and returns pᵀ(B + λI)p.</summary>
    internal unsafe double DampAndCurvature(ReadOnlySpan<T> p, Span<T> bp, T lambda)
    {
        fixed (T* pp = p, pbp = bp)
        {
            _p = pp;
            _bp = pbp;
            _scalar = lambda;
            Run(Pass.Curvature);
            _p = _bp = null;
        }
        return Sum(0);
    }

    /// <summary>d ← d + αp; r ← r − α·Bp; z ← r / m (z is r when <paramref name="m"/> is empty: no preconditioner); and
    /// returns rᵀz, dᵀb and dᵀr of the new d, r and z. Without <paramref name="residualDot"/> z is neither written nor
    /// read and rᵀz is returned as 0 (a general preconditioner forms z after the pass; <see cref="Dot"/> then takes rᵀz).</summary>
    internal unsafe (double Rz, double Db, double Dr) Advance(T alpha, ReadOnlySpan<T> p, ReadOnlySpan<T> bp, Span<T> d,
        Span<T> r, ReadOnlySpan<T> m, Span<T> z, ReadOnlySpan<T> b, bool residualDot = true)
    {
        _residualDot = residualDot;
        fixed (T* pp = p, pbp = bp, pd = d, pr = r, pm = m, pz = z, pb = b)
        {
            _p = pp;
            _bp = pbp;
            _d = pd;
            _r = pr;
            _m = m.IsEmpty ? null : pm;
            _z = m.IsEmpty ? pr : pz;
            _b = pb;
            _scalar = alpha;
            Run(Pass.Advance);
            _p = _bp = _d = _r = _m = _z = _b = null;
        }
        return (Sum(0), Sum(1), Sum(2));
    }

    /// <summary>uᵀv, its chunks' dot products in <typeparamref name="T"/> added in double in chunk order.</summary>
    internal unsafe double Dot(ReadOnlySpan<T> u, ReadOnlySpan<T> v)
    {
        fixed (T* pu = u, pv = v)
        {
            _r = pu;
            _z = pv;
            Run(Pass.Dot);
            _r = _z = null;
        }
        return Sum(0);
    }

    /// <summary>p ← z + βp.</summary>
    internal unsafe void Direction(T beta, ReadOnlySpan<T> z, Span<T> p)
    {
        fixed (T* pz = z, pp = p)
        {
            _z = pz;
            _p = pp;
            _scalar = beta;
            Run(Pass.Direction);
            _z = _p = null;
        }
    }

    internal override void Execute(int part)
    {
        try
        {
            Chunks(_chunks / 2, _chunks);
        }
        catch (Exception e)
        {
            _error = e;
        }
    }

    private void Run(Pass pass)
    {
        _pass = pass;
        if (_threads < 2 || _n < ParallelMinimum || Gemm.Pool.HeldByCurrentThread || !Gemm.Pool.TryEnter(1))
        {
            Chunks(0, _chunks);
            return;
        }
        try
        {
            _error = null;
            Gemm.Pool.Start(this, 1);
            try
            {
                Chunks(0, _chunks / 2);
            }
            finally
            {
                Gemm.Pool.Join();
            }
            if (_error is { } error) throw new InvalidOperationException("a conjugate-gradient pass failed on the pool worker", error);
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }

    private unsafe void Chunks(int first, int end)
    {
        for (int c = first; c < end; c++)
        {
            int lo = c * Chunk, len = Math.Min(Chunk, _n - lo);
            switch (_pass)
            {
                case Pass.Curvature:
                {
                    var p = new ReadOnlySpan<T>(_p + lo, len);
                    var bp = new Span<T>(_bp + lo, len);
                    if (_scalar != T.Zero) TensorPrimitives.MultiplyAdd(p, _scalar, bp, bp);
                    _partials[3 * c] = double.CreateChecked(TensorPrimitives.Dot<T>(p, bp));
                    break;
                }
                case Pass.Advance:
                {
                    var d = new Span<T>(_d + lo, len);
                    var r = new Span<T>(_r + lo, len);
                    var z = new Span<T>(_z + lo, len);
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(_p + lo, len), _scalar, d, d);
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(_bp + lo, len), -_scalar, r, r);
                    if (_m != null) TensorPrimitives.Divide(r, new ReadOnlySpan<T>(_m + lo, len), z);
                    _partials[3 * c] = _residualDot ? double.CreateChecked(TensorPrimitives.Dot<T>(r, z)) : 0;
                    _partials[(3 * c) + 1] = double.CreateChecked(TensorPrimitives.Dot<T>(d, new ReadOnlySpan<T>(_b + lo, len)));
                    _partials[(3 * c) + 2] = double.CreateChecked(TensorPrimitives.Dot<T>(d, r));
                    break;
                }
                case Pass.Dot:
                    _partials[3 * c] = double.CreateChecked(TensorPrimitives.Dot<T>(new ReadOnlySpan<T>(_r + lo, len), new ReadOnlySpan<T>(_z + lo, len)));
                    break;
                default:
                {
                    var p = new Span<T>(_p + lo, len);
                    TensorPrimitives.MultiplyAdd(p, _scalar, new ReadOnlySpan<T>(_z + lo, len), p);
                    break;
                }
            }
        }
    }

    private double Sum(int which)
    {
        double sum = 0;
        for (int c = 0; c < _chunks; c++) sum += _partials[(3 * c) + which];
        return sum;
    }
}
