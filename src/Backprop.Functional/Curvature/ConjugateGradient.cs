using System.Diagnostics;
using System.Numerics;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Preconditioned conjugate gradient for (B + λI)d = b with B symmetric positive semi-definite, given only
/// v ↦ Bv: minimises φ(d) = ½dᵀ(B + λI)d − bᵀd over d₀ + Kᵢ(M⁻¹(B + λI), M⁻¹r₀) at iteration i (Hestenes &amp;
/// Stiefel 1952). Warm start from the caller's d, Martens' (2010 §4.4) relative-progress stopping rule, and the
/// iterates at geometrically spaced iterations kept for CG backtracking (§4.6). M is a diagonal (a span, divided inside
/// the fused vector pass) or any SPD <see cref="IPreconditioner{T}"/> (z = M⁻¹r after the pass).
/// <para>Threads: one solve at a time; an iteration's vector work runs on two threads when the solver was made for two
/// or more and n is large (<see cref="CgVectors{T}"/>: the same bits for any thread count). Allocation: all buffers are
/// rented in the constructor; <see cref="Solve{TOp}"/> allocates nothing.</para></summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>φ is tracked as −½dᵀ(b + r) from the recurred residual r = b − (B + λI)d, two dot products per iteration
/// and no extra product (Martens' code does the same). An iteration's vector work is three fused passes
/// (<see cref="CgVectors{T}"/>), its dot products added in double over fixed chunks. The residual is never recomputed from scratch: with B applied
/// in <typeparamref name="T"/> = float it drifts from the true one after a few hundred iterations, which the progress
/// rule stops long before.</remarks>
public sealed class ConjugateGradient<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MemoryOwner<T> _buffer;   // r | z | p | Bp | kept iterates
    private readonly double[] _phi;            // φ at every iteration of the last solve, [MaxIterations + 1]
    private readonly int[] _keepAt;            // iterations whose iterate is kept, ascending
    private readonly int[] _keptIteration;     // per kept slot of the last solve: its iteration
    private readonly CgVectors<T> _vectors;    // an iteration's vector work, fused and chunked
    private readonly int _n;
    private int _kept;

    /// <summary>A solver for systems of <paramref name="dimension"/> unknowns.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is less than 1.</exception>
    public ConjugateGradient(int dimension, ConjugateGradientOptions? options = null) : this(dimension, options, 1)
    {
    }

    /// <summary>A solver for systems of <paramref name="dimension"/> unknowns whose vector work runs on up to
    /// <paramref name="threads"/> threads (two at most are used; the iterates are the same bits for any count).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> or <paramref name="threads"/> is less than 1.</exception>
    public ConjugateGradient(int dimension, ConjugateGradientOptions? options, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Options = options ?? new ConjugateGradientOptions();
        _n = dimension;
        var keepAt = new List<int>();
        for (double at = Options.KeepFirst; at <= Options.MaxIterations; at *= Options.KeepRatio)
        {
            int i = (int)Math.Ceiling(at);
            if (i <= Options.MaxIterations && (keepAt.Count == 0 || keepAt[^1] != i)) keepAt.Add(i);
        }
        _keepAt = [.. keepAt];
        _keptIteration = new int[_keepAt.Length + 1];   // + the last iterate
        _phi = new double[Options.MaxIterations + 1];
        _buffer = MemoryOwner<T>.Allocate(checked((4 + _keptIteration.Length) * dimension), AllocationMode.Clear);
        _vectors = new CgVectors<T>(dimension, threads);
    }

    /// <summary>The stopping and keeping rules.</summary>
    public ConjugateGradientOptions Options { get; }

    /// <summary>The number of unknowns.</summary>
    public int Dimension => _n;

    /// <summary>Iterates kept by the last solve, in iteration order; the last is the final iterate.</summary>
    public int KeptCount => _kept;

    /// <summary>The <paramref name="index"/>-th kept iterate of the last solve, [n].</summary>
    public ReadOnlySpan<T> Kept(int index) => Slot(4 + CheckKept(index));

    /// <summary>The iteration the <paramref name="index"/>-th kept iterate is from (0: the warm start itself).</summary>
    public int KeptIteration(int index) => _keptIteration[CheckKept(index)];

    /// <summary>φ at the <paramref name="index"/>-th kept iterate.</summary>
    public double KeptObjective(int index) => _phi[_keptIteration[CheckKept(index)]];

    /// <summary>φ(dᵢ) at iteration <paramref name="iteration"/> of the last solve (0: the warm start).</summary>
    public double Objective(int iteration) => _phi[iteration];

    /// <summary>Solves (B + λI)d = b from the warm start in <paramref name="d"/>, stopping by
    /// <see cref="Options"/>; the final iterate is left in <paramref name="d"/>.</summary>
    /// <param name="b">The right-hand side, [n].</param>
    /// <param name="lambda">λ ≥ 0, the damping added to B.</param>
    /// <param name="d">In: the first iterate d₀ (zeros for a cold start). Out: the last iterate.</param>
    /// <param name="preconditioner">Empty, or the diagonal of a positive definite M, [n]: CG then runs on
    /// M⁻¹(B + λI).</param>
    /// <param name="op">v ↦ Bv.</param>
    /// <param name="maxIterations">A lower cap for this solve alone (0: <see cref="ConjugateGradientOptions.MaxIterations"/>;
    /// a larger value is held to it).</param>
    /// <exception cref="ArgumentException">A span is not [n] long.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxIterations"/> is negative.</exception>
    public ConjugateGradientResult Solve<TOp>(scoped ref TOp op, ReadOnlySpan<T> b, T lambda, Span<T> d,
        ReadOnlySpan<T> preconditioner = default, int maxIterations = 0) where TOp : ILinearOperator<T>, allows ref struct
    {
        if (b.Length != _n || d.Length != _n || (!preconditioner.IsEmpty && preconditioner.Length != _n))
            ThrowLengths(b.Length, d.Length, preconditioner.Length);
        var none = default(NoPreconditioner);
        return Run(ref op, b, lambda, d, preconditioner, ref none, general: false, maxIterations);
    }

    /// <summary>Solves (B + λI)d = b from the warm start in <paramref name="d"/> as
    /// <see cref="Solve{TOp}(ref TOp, ReadOnlySpan{T}, T, Span{T}, ReadOnlySpan{T}, int)"/> does, preconditioned by a
    /// general symmetric positive definite M given as z = M⁻¹r (CG then runs on M⁻¹(B + λI)). Each iteration applies
    /// M⁻¹ once, after the fused pass that advances d and r, and takes rᵀz in one more chunked pass (the same double
    /// sums in chunk order as the others, so the bits do not depend on the thread count if M⁻¹'s do not).</summary>
    /// <param name="op">v ↦ Bv.</param>
    /// <param name="b">The right-hand side, [n].</param>
    /// <param name="lambda">λ ≥ 0, the damping added to B.</param>
    /// <param name="d">In: the first iterate d₀ (zeros for a cold start). Out: the last iterate.</param>
    /// <param name="preconditioner">r ↦ M⁻¹r, fixed for the solve.</param>
    /// <param name="maxIterations">A lower cap for this solve alone (0: <see cref="ConjugateGradientOptions.MaxIterations"/>).</param>
    /// <exception cref="ArgumentException">A span is not [n] long.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxIterations"/> is negative.</exception>
    public ConjugateGradientResult Solve<TOp, TPreconditioner>(scoped ref TOp op, ReadOnlySpan<T> b, T lambda, Span<T> d,
        scoped ref TPreconditioner preconditioner, int maxIterations = 0)
        where TOp : ILinearOperator<T>, allows ref struct
        where TPreconditioner : IPreconditioner<T>, allows ref struct
    {
        if (b.Length != _n || d.Length != _n) ThrowLengths(b.Length, d.Length, _n);
        return Run(ref op, b, lambda, d, default, ref preconditioner, general: true, maxIterations);
    }

    /// <summary>The solve: with <paramref name="general"/> z = M⁻¹r comes from <paramref name="preconditioner"/>, else
    /// from the <paramref name="diagonal"/> (or z is r when it is empty), divided inside the fused pass.</summary>
    private ConjugateGradientResult Run<TOp, TPreconditioner>(scoped ref TOp op, ReadOnlySpan<T> b, T lambda, Span<T> d,
        ReadOnlySpan<T> diagonal, scoped ref TPreconditioner preconditioner, bool general, int maxIterations)
        where TOp : ILinearOperator<T>, allows ref struct
        where TPreconditioner : IPreconditioner<T>, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxIterations);
        int cap = maxIterations == 0 ? Options.MaxIterations : Math.Min(maxIterations, Options.MaxIterations);
        Span<T> r = Slot(0), z = diagonal.IsEmpty && !general ? r : Slot(1), p = Slot(2), bp = Slot(3);
        // r₀ = b − (B + λI)d₀, skipping the product for a cold start.
        if (d.ContainsAnyExcept(T.Zero))
        {
            Apply(ref op, d, lambda, bp);
            TensorPrimitives.Subtract(b, bp, r);
        }
        else b.CopyTo(r);
        if (general) preconditioner.Apply(r, z);
        else Precondition(r, diagonal, z);
        z.CopyTo(p);
        T rz = TensorPrimitives.Dot<T>(r, z);
        T rz0 = rz;
        T residualStop = T.CreateSaturating(Options.ResidualTolerance * Options.ResidualTolerance) * rz0;
        _phi[0] = Phi(b, r, d);
        _kept = 0;
        int nextKeep = 0, i = 0;
        var stop = ConjugateGradientStop.MaxIterations;
        if (!(rz > residualStop) || rz == T.Zero) stop = ConjugateGradientStop.Residual;
        else
            while (i < cap)
            {
                op.Apply(p, bp);
                T pBp = T.CreateSaturating(_vectors.DampAndCurvature(p, bp, lambda));   // Bp ← (B + λI)p
                T alpha = rz / pBp;
                if (!(pBp > T.Zero) || !T.IsFinite(alpha))
                {
                    stop = ConjugateGradientStop.NonPositiveCurvature;
                    break;
                }
                i++;
                // d ← d + αp, r ← r − α(B + λI)p, z ← M⁻¹r; φ(d) = −½dᵀ(b + r) from the same pass.
                double rzNew, db, dr;
                if (general)
                {
                    (_, db, dr) = _vectors.Advance(alpha, p, bp, d, r, default, default, b, residualDot: false);
                    preconditioner.Apply(r, z);
                    rzNew = _vectors.Dot(r, z);
                }
                else (rzNew, db, dr) = _vectors.Advance(alpha, p, bp, d, r, diagonal, z, b);
                T rzNext = T.CreateSaturating(rzNew);
                double phi = -0.5 * (db + dr);
                _phi[i] = phi;
                if (nextKeep < _keepAt.Length && _keepAt[nextKeep] == i)
                {
                    Keep(d, i);
                    nextKeep++;
                }
                if (!(rzNext > residualStop) || rzNext == T.Zero)
                {
                    stop = ConjugateGradientStop.Residual;
                    break;
                }
                if (i >= Options.MinIterations && ProgressStalled(i, phi))
                {
                    stop = ConjugateGradientStop.Progress;
                    break;
                }
                _vectors.Direction(rzNext / rz, z, p);   // p ← z + βp, β = rᵢ₊₁ᵀzᵢ₊₁ / rᵢᵀzᵢ
                rz = rzNext;
            }
        if (_kept == 0 || _keptIteration[_kept - 1] != i) Keep(d, i);
        return new ConjugateGradientResult(i, _phi[i], stop);
    }

    /// <summary>The solve without a general preconditioner (never called).</summary>
    private readonly struct NoPreconditioner : IPreconditioner<T>
    {
        public void Apply(ReadOnlySpan<T> r, Span<T> z) => throw new UnreachableException();
    }

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose() => _buffer.Dispose();

    private bool ProgressStalled(int i, double phi)
    {
        double eps = Options.ProgressTolerance;
        if (eps == 0) return false;
        int k = Math.Max(10, (int)Math.Ceiling(0.1 * i));
        return i > k && phi < 0 && (phi - _phi[i - k]) / phi < k * eps;
    }

    private static void Apply<TOp>(scoped ref TOp op, ReadOnlySpan<T> v, T lambda, Span<T> result)
        where TOp : ILinearOperator<T>, allows ref struct
    {
        op.Apply(v, result);
        if (lambda != T.Zero) TensorPrimitives.MultiplyAdd(v, lambda, result, result);
    }

    private static void Precondition(ReadOnlySpan<T> r, ReadOnlySpan<T> m, Span<T> z)
    {
        if (!m.IsEmpty) TensorPrimitives.Divide(r, m, z);
    }

    // φ(d) = ½dᵀ(B + λI)d − bᵀd = ½dᵀ(b − r) − bᵀd = −½dᵀ(b + r).
    private static double Phi(ReadOnlySpan<T> b, ReadOnlySpan<T> r, ReadOnlySpan<T> d) =>
        -0.5 * (double.CreateChecked(TensorPrimitives.Dot<T>(d, b)) + double.CreateChecked(TensorPrimitives.Dot<T>(d, r)));

    private void Keep(ReadOnlySpan<T> d, int iteration)
    {
        d.CopyTo(Slot(4 + _kept));
        _keptIteration[_kept++] = iteration;
    }

    private Span<T> Slot(int index) => _buffer.Span.Slice(index * _n, _n);

    private int CheckKept(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _kept);
        return index;
    }

    private void ThrowLengths(int b, int d, int m) =>
        throw new ArgumentException($"conjugate gradient on {_n} unknowns takes b, d and the preconditioner (or none) of length {_n}; got b {b}, d {d}, preconditioner {m}");
}
