using System.Numerics;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>AdaHessian (Yao et al. 2021): Adam with the squared gradient replaced by the squared Hutchinson estimate of
/// the Hessian's diagonal. Each step, with t the step count after it:
/// g = ∂C/∂θ; D = |(1/S) Σₛ zₛ ⊙ Hzₛ| (<see cref="Hutchinson{T}"/>, refreshed every <see cref="AdaHessianOptions.UpdateEach"/>
/// steps, optionally averaged over blocks: <see cref="AdaHessianOptions.SpatialBlock"/>);
/// m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)D²;
/// θ ← (1 − ηλ)θ − (η/(1 − β₁ᵗ)) · m / ((v/(1 − β₂ᵗ))^(k/2) + ε).
/// <para>With k = 1 the step is m̂/|D̂|: a diagonal Newton step −g/diag(H) whose sign is kept from g (|D|, so negative
/// curvature never turns it uphill), smoothed over time by the moments. The cost per step: one forward pass, one backward
/// pass for g, and one tangent plus one backward pass per probe.</para>
/// <para>Threads: one step at a time.</para></summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>As the authors' code (amirgholami/adahessian) and the davda54 port: D enters squared (so its sign is moot
/// there; |D| matters only for spatial averaging), ε is added after the power, the decay is decoupled. Spatial averaging
/// follows the paper's eq. 10 over runs of b consecutive entries within each weight row or bias (the authors average
/// a convolution's kernel positions; a dense layer has none, hence off by default).</remarks>
public sealed class AdaHessian<T> : ICurvatureOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CurvatureWorkspace<T> _ws;
    private readonly Hutchinson<T> _hutchinson;
    private readonly MemoryOwner<T> _buffer;   // g, m, v, D: four vectors of θ's length
    private readonly int _n;
    private bool _disposed;

    /// <summary>An optimizer for <paramref name="spec"/> on batches of up to <paramref name="batch"/> rows.</summary>
    /// <param name="spec">The network.</param>
    /// <param name="batch">The largest batch.</param>
    /// <param name="options">Hyper-parameters; the defaults when null.</param>
    /// <param name="threads">Threads the GEMMs may use.</param>
    public AdaHessian(NetworkSpec spec, int batch, AdaHessianOptions? options = null, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        Options = options ?? new AdaHessianOptions();
        _n = spec.Layout.Count;
        _ws = new CurvatureWorkspace<T>(spec, batch, threads);
        _hutchinson = new Hutchinson<T>(spec, Options.Seed);
        _buffer = MemoryOwner<T>.Allocate(checked(4 * _n), AllocationMode.Clear);
    }

    /// <summary><c>adahessian</c>.</summary>
    public string Name => "adahessian";

    /// <summary>The network.</summary>
    public NetworkSpec Spec { get; }

    /// <summary>The hyper-parameters.</summary>
    public AdaHessianOptions Options { get; }

    /// <summary>Updates taken (t).</summary>
    public long Step { get; private set; }

    /// <summary>The first moment m, [θ].</summary>
    public ReadOnlySpan<T> FirstMoment => _buffer.Span.Slice(_n, _n);

    /// <summary>The second moment v of D, [θ].</summary>
    public ReadOnlySpan<T> SecondMoment => _buffer.Span.Slice(2 * _n, _n);

    /// <summary>The last |diagonal estimate| D the step used (after spatial averaging), [θ].</summary>
    public ReadOnlySpan<T> Diagonal => _buffer.Span.Slice(3 * _n, _n);

    /// <summary>One AdaHessian step (see <see cref="AdaHessian{T}"/>). Allocates nothing.</summary>
    /// <exception cref="ArgumentException">A shape does not match, or x or y holds NaN or infinity.</exception>
    public T Update(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var o = Options;
        var all = _buffer.Span;
        Span<T> g = all[.._n], m = all.Slice(_n, _n), v = all.Slice(2 * _n, _n), d = all.Slice(3 * _n, _n);
        Curvature.Forward(Spec, theta, x, _ws);
        T cost = Curvature.Gradient(Spec, theta, x, y, _ws, g);
        if (!T.IsFinite(cost)) return cost;
        if (Step % o.UpdateEach == 0)
        {
            _hutchinson.Estimate(theta, x, y, _ws, o.Samples, d);
            TensorPrimitives.Abs<T>(d, d);
            if (o.SpatialBlock > 1) SpatialAverage(Spec.Layout, d, o.SpatialBlock);
        }
        long t = ++Step;
        T b1 = T.CreateChecked(o.Beta1), b2 = T.CreateChecked(o.Beta2);
        T c1 = T.One - b1, c2 = T.One - b2;
        T stepSize = T.CreateChecked(o.LearningRate / (1 - Math.Pow(o.Beta1, t)));
        T inverseCorrection2 = T.CreateChecked(1 / (1 - Math.Pow(o.Beta2, t)));
        T eps = T.CreateChecked(o.Epsilon), halfPower = T.CreateChecked(o.HessianPower / 2);
        T decay = T.CreateChecked(1 - o.LearningRate * o.WeightDecay);
        bool sqrt = o.HessianPower == 1;
        int i = 0;
        if (sqrt && Vector.IsHardwareAccelerated && Vector<T>.IsSupported)   // the default k = 1, a lane at a time
        {
            for (; i <= _n - Vector<T>.Count; i += Vector<T>.Count)
            {
                var gi = new Vector<T>(g[i..]);
                var di = new Vector<T>(d[i..]);
                var mi = b1 * new Vector<T>(m[i..]) + c1 * gi;
                var vi = b2 * new Vector<T>(v[i..]) + c2 * di * di;
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                var denominator = Vector.SquareRoot(vi * inverseCorrection2) + new Vector<T>(eps);
                (decay * new Vector<T>(theta[i..]) - stepSize * mi / denominator).CopyTo(theta[i..]);
            }
        }
        for (; i < _n; i++)
        {
            T mi = b1 * m[i] + c1 * g[i];
            T vi = b2 * v[i] + c2 * d[i] * d[i];
            m[i] = mi;
            v[i] = vi;
            T corrected = vi * inverseCorrection2;
            T denominator = (sqrt ? T.Sqrt(corrected) : T.Pow(corrected, halfPower)) + eps;
            theta[i] = decay * theta[i] - stepSize * mi / denominator;
        }
        return cost;
    }

    /// <summary>Each run of b consecutive entries of a weight row (or of a bias) replaced by its mean; a shorter last run
    /// by its own mean.</summary>
    private static void SpatialAverage(ParameterLayout layout, Span<T> d, int block)
    {
        foreach (var slot in layout.Slots)
        {
            int width = slot.Rank == 1 ? slot.Length : slot.Columns;
            var s = slot.Of(d);
            for (int r = 0; r < s.Length; r += width)
                for (int c = 0; c < width; c += block)
                {
                    var run = s.Slice(r + c, Math.Min(block, width - c));
                    run.Fill(TensorPrimitives.Sum<T>(run) / T.CreateChecked(run.Length));
                }
        }
    }

    /// <summary>Returns the workspace and buffers to the pool.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _ws.Dispose();
        _hutchinson.Dispose();
        _buffer.Dispose();
    }
}
