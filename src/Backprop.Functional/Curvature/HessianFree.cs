using System.Numerics;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Hessian-free optimisation (Martens 2010), one update per batch: g = ∇C(θ); d ≈ argmin gᵀd + ½dᵀ(G + λI)d
/// by conjugate gradient on Gauss–Newton-vector products (<see cref="Curvature.GaussNewtonVector{T}"/>) over the
/// first rows of the batch, warm-started from ζ·d_prev and preconditioned by Martens' M = diag((1/m) Σᵢ ∇ℓᵢ⊙∇ℓᵢ + λ)^ξ
/// (<see cref="HessianFreeOptions.PreconditionerExponent"/>), or with <see cref="HessianFreePreconditioner.KFac"/> by
/// Kronecker-factored blocks of the damped Gauss–Newton matrix on the curvature rows (<see cref="KFacPreconditioner{T}"/>); CG backtracking picks the kept iterate with the lowest batch
/// cost; λ follows the reduction ratio ρ (Levenberg–Marquardt); θ ← θ + αd with α from an Armijo line search.
/// Options and their sources: <see cref="HessianFreeOptions"/>.
/// <para>Threads: one update at a time. Allocation: workspaces and buffers are rented in the constructor (about
/// (5 + kept iterates)·n values besides the workspaces, and batch × inputs for the preconditioner); updates allocate
/// nothing.</para></summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>Martens' choices kept here: ρ is measured against the undamped model q(d) = gᵀd + ½dᵀGd, with G from the
/// curvature rows and C from the whole batch; the next warm start is the last CG iterate, not the backtracked one;
/// backtracking walks back from the last kept iterate while the one before it is strictly better (his code; it can stop
/// at a local minimum of the sequence, which saves cost evaluations); the preconditioner's squared gradients come from
/// the gradient's batch (<see cref="SquaredGradients"/>: dense layers only; a network with other layers runs CG
/// unpreconditioned). Not here: structural damping (recurrent networks).</remarks>
public sealed class HessianFree<T> : ICurvatureOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NetworkSpec? _spec;
    private readonly CurvatureWorkspace<T>? _curvature;
    private readonly Workspace<T>? _costs;
    private readonly ConjugateGradient<T> _cg;
    private readonly MemoryOwner<T> _buffer;   // g | b = −g | d (CG's iterate; the next warm start) | trial θ | M
    private readonly MemoryOwner<T>? _inputSquares;   // x ⊙ x for the preconditioner, [batch × inputs]
    private readonly KFacPreconditioner<T>? _kfac;     // Preconditioner = KFac: the Kronecker blocks on the curvature rows
    private readonly int _n;
    private int _chosen;
    private long _solves;   // updates that reached CG: k of the growing cap

    /// <summary>An optimizer for <paramref name="spec"/> on batches of up to <paramref name="batch"/> rows.</summary>
    /// <param name="spec">The network.</param>
    /// <param name="batch">The largest batch an update takes.</param>
    /// <param name="options">Hyper-parameters (<c>null</c>: the defaults of <see cref="HessianFreeOptions"/>).</param>
    /// <param name="threads">Threads the GEMMs and CG's vector passes may use.</param>
    /// <param name="seed">Seed of the targets drawn from the model for the K-FAC preconditioner (unused otherwise).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="threads"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">The K-FAC preconditioner was asked for a network with a layer that is not a
    /// dense feature layer (the message names it).</exception>
    public HessianFree(NetworkSpec spec, int batch, HessianFreeOptions? options = null, int threads = 1, long seed = 0)
        : this(Count(spec), options, threads)
    {
        _spec = spec;
        if (Options.Preconditioner == HessianFreePreconditioner.KFac)
        {
            int rows = Math.Clamp((int)Math.Ceiling(Options.CurvatureFraction * batch), 1, Math.Max(batch, 1));
            _kfac = new KFacPreconditioner<T>(spec, Options.PreconditionerRows == 0 ? rows : Math.Min(rows, Options.PreconditionerRows), threads, seed);
        }
        _curvature = new CurvatureWorkspace<T>(spec, batch, threads);
        _costs = new Workspace<T>(spec.Layers, batch) { Threads = threads };
        if (_kfac is null && Options.PreconditionerExponent > 0 && SquaredGradients.Supports(spec))
            _inputSquares = MemoryOwner<T>.Allocate(checked(batch * spec.Inputs), AllocationMode.Clear);
    }

    /// <summary>An optimizer over <paramref name="dimension"/> parameters for <see cref="Step{TProblem}"/> alone.</summary>
    internal HessianFree(int dimension, HessianFreeOptions? options, int threads = 1)
    {
        Options = options ?? new HessianFreeOptions();
        _n = dimension;
        _cg = new ConjugateGradient<T>(dimension, Options.Solver, threads);
        _buffer = MemoryOwner<T>.Allocate(checked(5 * dimension), AllocationMode.Clear);
        Damping = Options.Damping;
    }

    /// <summary><c>hessian-free</c>.</summary>
    public string Name => "hessian-free";

    /// <summary>The options.</summary>
    public HessianFreeOptions Options { get; }

    /// <summary>λ for the next update.</summary>
    public double Damping { get; private set; }

    /// <summary>What the last update did.</summary>
    public HessianFreeStep LastStep { get; private set; }

    /// <summary>The last CG iterate of the last update (the next warm start before ζ), [n].</summary>
    internal ReadOnlySpan<T> Direction => Slot(2);

    /// <summary>The kept CG iterate the last update stepped along (before α), [n].</summary>
    internal ReadOnlySpan<T> Chosen => _cg.Kept(_chosen);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A shape does not match the network, or x or y holds NaN or infinity.</exception>
    public T Update(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y)
    {
        if (_spec is null) throw new InvalidOperationException("this HessianFree was made without a network");
        var problem = new NetworkProblem(_spec, _curvature!, _costs!, x, y, Options.CurvatureFraction, Options.HeldOutFraction,
            _inputSquares is null ? default : _inputSquares.Span, _kfac);
        return Step(ref problem, theta, precondition: _inputSquares is not null || _kfac is not null);
    }

    /// <summary>One Hessian-free update of <paramref name="theta"/> on <paramref name="problem"/>; with
    /// <paramref name="precondition"/> (and ξ &gt; 0) the problem supplies the squared gradients of Martens' preconditioner,
    /// or, with the K-FAC preconditioner, prepares its factors during <see cref="IHessianFreeProblem{T}.ValueAndGradient"/>.</summary>
    internal T Step<TProblem>(scoped ref TProblem problem, Span<T> theta, bool precondition = false)
        where TProblem : IHessianFreeProblem<T>, allows ref struct
    {
        if (theta.Length != _n) throw new ArgumentException($"θ has {theta.Length} values; the optimizer was made for {_n}", nameof(theta));
        Span<T> g = Slot(0), b = Slot(1), d = Slot(2), trial = Slot(3);
        bool kfac = precondition && _kfac is not null;
        Span<T> m = precondition && !kfac && Options.PreconditionerExponent > 0 ? Slot(4) : default;
        T batchCost = problem.ValueAndGradient(theta, g, m);
        if (!T.IsFinite(batchCost)) return batchCost;
        T f0 = problem.Reference(theta, batchCost);   // C(θ) where backtracking, ρ and the line search measure it
        if (!T.IsFinite(f0)) return f0;

        TensorPrimitives.Negate(g, b);
        TensorPrimitives.Multiply(d, T.CreateChecked(Options.WarmStartDecay), d);
        T lambda = T.CreateChecked(Damping);
        int cap = Options.IterationCap(_solves++, _cg.Options.MaxIterations);
        ConjugateGradientResult solve;
        if (kfac)
        {
            var blocks = _kfac!;
            blocks.Damp(Damping);   // M fixed for this solve: the factors of this update, damped by its λ
            solve = _cg.Solve(ref problem, b, lambda, d, ref blocks, cap);
        }
        else
        {
            if (!m.IsEmpty) Preconditioner(m, lambda, T.CreateChecked(Options.PreconditionerExponent));
            solve = _cg.Solve(ref problem, b, lambda, d, m, cap);
        }
        if (!AllFinite(d)) d.Clear();   // a poisoned warm start would poison every later solve

        // CG backtracking: from the last kept iterate, step back while the earlier one is strictly better.
        int best = _cg.KeptCount - 1;
        T fBest = CostAt(ref problem, theta, _cg.Kept(best), T.One, trial);
        while (best > 0)
        {
            T fPrev = CostAt(ref problem, theta, _cg.Kept(best - 1), T.One, trial);
            if (!(fPrev < fBest)) break;
            best--;
            fBest = fPrev;
        }
        ReadOnlySpan<T> step = _cg.Kept(best);
        _chosen = best;

        // Levenberg–Marquardt: ρ against the undamped model q(d) = gᵀd + ½dᵀGd = φ(d) − ½λ‖d‖².
        double q = _cg.KeptObjective(best) - (0.5 * Damping * double.CreateChecked(TensorPrimitives.Dot(step, step)));
        double reduction = double.CreateChecked(fBest - f0);
        double rho = q < 0 && double.IsFinite(reduction) ? reduction / q : double.NegativeInfinity;
        double used = Damping;
        if (!(rho >= 0.25)) Damping *= 1.5;
        else if (rho > 0.75) Damping = Math.Max(Damping * 2.0 / 3.0, Options.MinDamping);

        // Armijo line search along the chosen iterate, from α = 1 (whose cost backtracking already has).
        T slope = TensorPrimitives.Dot(g, step);
        T c = T.CreateChecked(Options.ArmijoConstant), shrink = T.CreateChecked(Options.LineSearchShrink);
        T alpha = T.One, f = fBest;
        int shrinks = 0;
        while (!(f <= f0 + (c * alpha * slope)))
        {
            if (++shrinks > Options.LineSearchSteps)
            {
                alpha = T.Zero;
                break;
            }
            alpha *= shrink;
            f = CostAt(ref problem, theta, step, alpha, trial);
        }
        if (alpha != T.Zero) TensorPrimitives.MultiplyAdd(step, alpha, theta, theta);
        LastStep = new HessianFreeStep(solve.Iterations, solve.Stop, _cg.KeptIteration(best), rho, double.CreateChecked(alpha), used);
        return batchCost;
    }

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        _cg.Dispose();
        _buffer.Dispose();
        _inputSquares?.Dispose();
        _kfac?.Dispose();
        _curvature?.Dispose();
        _costs?.Dispose();
    }

    /// <summary>M = (s + λ)^ξ in place over the squared gradients s (Martens 2010 §4.7); a non-finite entry makes M the
    /// identity rather than poisoning the solve.</summary>
    internal static void Preconditioner(Span<T> squared, T lambda, T exponent)
    {
        TensorPrimitives.Add(squared, lambda, squared);
        if (exponent == T.CreateChecked(0.75)) ThreeQuarters(squared);
        else TensorPrimitives.Pow(squared, exponent, squared);
        if (!T.IsFinite(TensorPrimitives.Sum<T>(squared)) || !(TensorPrimitives.Min<T>(squared) > T.Zero)) squared.Fill(T.One);
    }

    /// <summary>v ← v^¾ = √v·√√v, for Martens' ξ = ¾: two square roots and a product (a few ulps: PreconditionerTests) where
    /// <see cref="TensorPrimitives.Pow{T}(ReadOnlySpan{T}, T, Span{T})"/> took 13 ms on the 2.8 M parameters of Martens'
    /// 784-1000-500-250-30 autoencoder, 5 % of an update on two threads.</summary>
    private static void ThreeQuarters(Span<T> v)
    {
        const int Block = 512;
        Span<T> root = stackalloc T[Block];
        for (int lo = 0; lo < v.Length; lo += Block)
        {
            var part = v.Slice(lo, Math.Min(Block, v.Length - lo));
            var fourth = root[..part.Length];
            TensorPrimitives.Sqrt(part, part);
            TensorPrimitives.Sqrt(part, fourth);
            TensorPrimitives.Multiply(part, fourth, part);
        }
    }

    private static T CostAt<TProblem>(scoped ref TProblem problem, ReadOnlySpan<T> theta, ReadOnlySpan<T> d, T alpha, Span<T> trial)
        where TProblem : IHessianFreeProblem<T>, allows ref struct
    {
        TensorPrimitives.MultiplyAdd(d, alpha, theta, trial);
        T cost = problem.Cost(trial);
        return T.IsFinite(cost) ? cost : T.PositiveInfinity;
    }

    private static bool AllFinite(ReadOnlySpan<T> v) => T.IsFinite(TensorPrimitives.Sum(v)) || !ContainsNonFinite(v);

    private static bool ContainsNonFinite(ReadOnlySpan<T> v)
    {
        foreach (T value in v)
            if (!T.IsFinite(value)) return true;
        return false;
    }

    private Span<T> Slot(int index) => _buffer.Span.Slice(index * _n, _n);

    private static int Count(NetworkSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Layout.Count;
    }

    /// <summary>A network on one batch of r rows: the last ⌊h·r⌉ (h = <paramref name="heldOut"/>; at least one when h &gt; 0
    /// and r &gt; 1) are held out for the costs; the gradient runs on the others and Gv on the first ⌈fraction·rows⌉ of those.</summary>
    private ref struct NetworkProblem(NetworkSpec spec, CurvatureWorkspace<T> curvature, Workspace<T> costs,
        ReadOnlySpan<T> x, ReadOnlySpan<T> y, double fraction, double heldOut, Span<T> inputSquares, KFacPreconditioner<T>? kfac)
        : IHessianFreeProblem<T>
    {
        private readonly ReadOnlySpan<T> _x = x, _y = y;
        private readonly Span<T> _inputSquares = inputSquares;
        private ReadOnlySpan<T> _theta, _xc, _yc, _xh, _yh;

        public T ValueAndGradient(ReadOnlySpan<T> theta, Span<T> gradient, Span<T> squaredGradients)
        {
            int all = _x.Length / spec.Inputs, outputs = _y.Length / Math.Max(all, 1);
            int held = heldOut > 0 && all > 1 ? Math.Clamp((int)Math.Round(heldOut * all), 1, all - 1) : 0;
            ReadOnlySpan<T> xf = _x[..((all - held) * spec.Inputs)], yf = _y[..((all - held) * outputs)];
            _xh = held > 0 ? _x[xf.Length..] : _x;
            _yh = held > 0 ? _y[yf.Length..] : _y;
            Curvature.Forward(spec, theta, xf, curvature);
            int rows = curvature.Rows;
            T cost = Curvature.Gradient(spec, theta, xf, yf, curvature, gradient);
            if (!squaredGradients.IsEmpty) SquaredGradients.Compute(spec, xf, curvature, _inputSquares, squaredGradients);
            int curvatureRows = Math.Clamp((int)Math.Ceiling(fraction * rows), 1, rows);
            _theta = theta;
            _xc = _x[..(curvatureRows * spec.Inputs)];
            _yc = _y[..(curvatureRows * outputs)];
            Curvature.Forward(spec, theta, _xc, curvature);
            // Its backward pass at the drawn targets writes only δ, which a Gauss–Newton product does not read (its δ
            // buffers are the tangent's): z and a stay this forward pass's (KFacPreconditionerTests pins it).
            kfac?.Prepare(theta, _xc, curvature, Math.Min(curvatureRows, kfac.MaxRows));
            return cost;
        }

        public readonly void Apply(ReadOnlySpan<T> v, Span<T> result) =>
            Curvature.GaussNewtonVector(spec, _theta, _xc, _yc, curvature, v, result);

        public readonly T Cost(ReadOnlySpan<T> theta)
        {
            Equations.Forward(spec, theta, _xh, costs);
            return Equations.MeanCost(spec, _yh, costs, costs.RowsOf(_xh.Length));
        }

        public readonly T Reference(ReadOnlySpan<T> theta, T batchCost) => _xh.Length == _x.Length ? batchCost : Cost(theta);
    }
}
