using System.Numerics;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Natural gradient, one update per batch: g = ∇C(θ); d ≈ (F + λI)⁻¹g by conjugate gradient on
/// <see cref="Curvature.FisherVector{T}"/> products (true Fisher by default, empirical as an option) on the same batch;
/// v ← μv + d; θ ← θ − ηv. Options and their sources: <see cref="NaturalGradientOptions"/>.
/// <para>Threads: one update at a time. Allocation: workspace and buffers (about (5 + kept iterates)·n values) are
/// rented in the constructor; updates allocate nothing.</para></summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>The step size is fixed: no line search and no adaptation of λ (Hessian-free has both; K-FAC adapts its own).
/// The true Fisher of a softmax + cross-entropy or sigmoid + binary cross-entropy or identity + quadratic output equals
/// the Gauss–Newton matrix, so with η = 1 and μ = 0 this is one damped Gauss–Newton step with a fixed λ.</remarks>
public sealed class NaturalGradient<T> : ICurvatureOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NetworkSpec _spec;
    private readonly CurvatureWorkspace<T> _curvature;
    private readonly ConjugateGradient<T> _cg;
    private readonly MemoryOwner<T> _buffer;   // g | d (CG's iterate) | v (momentum)
    private readonly int _n;

    /// <summary>An optimizer for <paramref name="spec"/> on batches of up to <paramref name="batch"/> rows.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="threads"/> is less than 1.</exception>
    public NaturalGradient(NetworkSpec spec, int batch, NaturalGradientOptions? options = null, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Options = options ?? new NaturalGradientOptions();
        _spec = spec;
        _n = spec.Layout.Count;
        _curvature = new CurvatureWorkspace<T>(spec, batch, threads);
        _cg = new ConjugateGradient<T>(_n, Options.Solver, threads);
        _buffer = MemoryOwner<T>.Allocate(checked(3 * _n), AllocationMode.Clear);
    }

    /// <summary><c>natural</c>.</summary>
    public string Name => "natural";

    /// <summary>The options.</summary>
    public NaturalGradientOptions Options { get; }

    /// <summary>How the last update's CG solve ended.</summary>
    public ConjugateGradientResult LastSolve { get; private set; }

    /// <summary>d of the last update, (F + λI)⁻¹∇C as far as CG got, [n].</summary>
    public ReadOnlySpan<T> Direction => Slot(1);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A shape does not match the network, or x or y holds NaN or infinity.</exception>
    public T Update(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y)
    {
        if (theta.Length != _n) throw new ArgumentException($"θ has {theta.Length} values; the network has {_n}", nameof(theta));
        Span<T> g = Slot(0), d = Slot(1), v = Slot(2);
        Curvature.Forward(_spec, theta, x, _curvature);
        T cost = Curvature.Gradient(_spec, theta, x, y, _curvature, g);
        if (!T.IsFinite(cost)) return cost;

        TensorPrimitives.Multiply(d, T.CreateChecked(Options.WarmStartDecay), d);
        var fisher = new FisherOperator(_spec, _curvature, theta, x, y, Options.Fisher);
        LastSolve = _cg.Solve(ref fisher, g, T.CreateChecked(Options.Damping), d);
        T eta = T.CreateChecked(Options.LearningRate);
        if (Options.Momentum == 0) TensorPrimitives.MultiplyAdd(d, -eta, theta, theta);
        else
        {
            TensorPrimitives.MultiplyAdd(v, T.CreateChecked(Options.Momentum), d, v);   // v ← μv + d
            TensorPrimitives.MultiplyAdd(v, -eta, theta, theta);
        }
        return cost;
    }

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        _cg.Dispose();
        _buffer.Dispose();
        _curvature.Dispose();
    }

    private Span<T> Slot(int index) => _buffer.Span.Slice(index * _n, _n);

    private readonly ref struct FisherOperator(NetworkSpec spec, CurvatureWorkspace<T> ws, ReadOnlySpan<T> theta,
        ReadOnlySpan<T> x, ReadOnlySpan<T> y, FisherKind kind) : ILinearOperator<T>
    {
        private readonly ReadOnlySpan<T> _theta = theta, _x = x, _y = y;

        public void Apply(ReadOnlySpan<T> v, Span<T> result) => Curvature.FisherVector(spec, _theta, _x, _y, ws, v, result, kind);
    }
}
