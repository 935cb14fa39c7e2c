using System.Numerics;

namespace Backprop.Functional;

/// <summary>A runtime network: a <see cref="NetworkSpec"/> and its flat parameter vector θ. The friendly face
/// of the functional core: every method is one call into <see cref="Equations"/>.
/// <para>Threads: θ is mutable. Reading it concurrently is safe: <see cref="Forward"/> and ValueAndGradient with one
/// <see cref="Workspace{T}"/> per thread run correctly in parallel on one network (tested with 8 threads). Training
/// (<see cref="Trainer"/>, TrainOnline, an optimizer update, loading parameters) writes θ and must not overlap any
/// other use of the network.</para></summary>
/// <example><code>
/// using var net = Network&lt;double&gt;.Create(NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh,
///     ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), seed: 1);
/// using var ws = net.CreateWorkspace(batch: 2);
/// using var g = net.CreateGradient();
/// double cost = net.ValueAndGradient(x, y, ws, g.Span);
/// </code></example>
public sealed class Network<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ParameterVector<T> _theta;

    private Network(NetworkSpec spec)
    {
        Spec = spec;
        _theta = new ParameterVector<T>(spec.Layout);
    }

    /// <summary>A network for <paramref name="spec"/> with parameters drawn from <paramref name="seed"/>.</summary>
    public static Network<T> Create(NetworkSpec spec, long seed, Initialization initialization = Initialization.PyTorch)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var net = new Network<T>(spec);
        Initializer.Fill(spec, net.Parameters, initialization, seed);
        return net;
    }

    /// <summary>A network for <paramref name="spec"/> with a copy of <paramref name="theta"/> as its parameters.</summary>
    /// <exception cref="ArgumentException">θ's length is not the layout's.</exception>
    public static Network<T> FromParameters(NetworkSpec spec, ReadOnlySpan<T> theta)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (theta.Length != spec.Layout.Count) Shapes.ThrowLengths("theta", theta.Length, "the layout", spec.Layout.Count);
        var net = new Network<T>(spec);
        theta.CopyTo(net.Parameters);
        return net;
    }

    /// <summary>The layers and cost.</summary>
    public NetworkSpec Spec { get; }

    /// <summary>Where each tensor sits in <see cref="Parameters"/>.</summary>
    public ParameterLayout Layout => Spec.Layout;

    /// <summary>θ, the flat parameter vector (writable: optimizers update it in place).</summary>
    public Span<T> Parameters => _theta.Span;

    /// <summary>Scratch for batches of up to <paramref name="batch"/> rows (of sequences of <paramref name="time"/> steps
    /// when the network reads sequences).</summary>
    public Workspace<T> CreateWorkspace(int batch, int threads = 1, int time = 1) => new(Spec.Layers, batch, time) { Threads = threads };

    /// <summary>One-sample inference on a snapshot of θ, zero inputs skipped (see <see cref="Predictor{T}"/>).</summary>
    public Predictor<T> CreatePredictor() => new(this);

    /// <summary>A zeroed vector in this network's layout, for ∂C/∂θ.</summary>
    public ParameterVector<T> CreateGradient() => new(Spec.Layout);

    /// <summary>aᴸ for the rows of <paramref name="x"/> ([batch × inputs]); a view into <paramref name="ws"/>.</summary>
    public ReadOnlySpan<T> Forward(ReadOnlySpan<T> x, Workspace<T> ws) => Equations.Forward(Spec, Parameters, x, ws);

    /// <summary>∂C/∂θ into <paramref name="gradient"/> after <see cref="Forward"/> on the same x; returns the mean cost.</summary>
    public T Backward(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient) =>
        Equations.Backward(Spec, Parameters, x, y, ws, gradient);

    /// <summary>One online-learning step on one sample, ∂C/∂θ formed inside the optimizer's update and never stored
    /// (the fused step of <see cref="TrainingStep"/>); any transform with <see cref="TransformCapabilities.FusedOuterProduct"/>
    /// (Sgd, Adam, AdamW; others are refused by name). η defaults to <c>optimizer.LearningRateAt(state.Step)</c>. Returns
    /// the cost before the update; when it is not finite θ, the moments and <paramref name="state"/> are left alone.</summary>
    public T TrainOnline(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, GradientTransform optimizer,
        ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        return TrainingStep.Run(new SpecTrainable<T>(Spec), Parameters, x, y, ws, default, optimizer, ref state, buffers,
            learningRate ?? optimizer.LearningRateAt(state.Step), StepMode.Fused);
    }

    /// <summary>Forward then backward: the mean cost C of the batch, and ∂C/∂θ in <paramref name="gradient"/>.</summary>
    public T ValueAndGradient(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient)
    {
        Forward(x, ws);
        return Backward(x, y, ws, gradient);
    }

    /// <summary>The mean cost of the batch (forward pass only); from the logits zᴸ for softmax + categorical and sigmoid
    /// + binary cross-entropy (see <see cref="ILoss.Cost{TAct, T}"/>), the same value <see cref="Backward"/> returns.</summary>
    public T Cost(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws)
    {
        Forward(x, ws);
        return Equations.MeanCost(Spec, y, ws, ws.RowsOf(x.Length));   // as Backward scales it: the same bits
    }

    /// <summary>Scratch for curvature-vector products (<see cref="HessianVector"/>, <see cref="GaussNewtonVector"/>,
    /// <see cref="FisherVector"/>) on batches of up to <paramref name="batch"/> rows.</summary>
    public CurvatureWorkspace<T> CreateCurvatureWorkspace(int batch, int threads = 1) => new(Spec, batch, threads);

    /// <summary>Hv = ∇²C(θ)·v of the batch's mean cost, exact (Pearlmutter's R-operator): the forward pass, then
    /// <see cref="Curvature.HessianVector{T}"/>. For many products at one θ call <see cref="Curvature"/> directly and run
    /// the forward pass once.</summary>
    public void HessianVector(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> v, CurvatureWorkspace<T> ws, Span<T> hv)
    {
        Curvature.Forward(Spec, Parameters, x, ws);
        Curvature.HessianVector(Spec, Parameters, x, y, ws, v, hv);
    }

    /// <summary>Gv = Jᵀ H_L J v, the Gauss–Newton product (<see cref="Curvature.GaussNewtonVector{T}"/>), forward pass included.</summary>
    public void GaussNewtonVector(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> v, CurvatureWorkspace<T> ws, Span<T> gv)
    {
        Curvature.Forward(Spec, Parameters, x, ws);
        Curvature.GaussNewtonVector(Spec, Parameters, x, y, ws, v, gv);
    }

    /// <summary>Fv for the true or the empirical Fisher (<see cref="Curvature.FisherVector{T}"/>), forward pass included.</summary>
    public void FisherVector(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> v, CurvatureWorkspace<T> ws, Span<T> fv,
        FisherKind kind = FisherKind.True)
    {
        Curvature.Forward(Spec, Parameters, x, ws);
        Curvature.FisherVector(Spec, Parameters, x, y, ws, v, fv, kind);
    }

    /// <summary>Returns the parameter buffer to the pool.</summary>
    public void Dispose() => _theta.Dispose();
}
