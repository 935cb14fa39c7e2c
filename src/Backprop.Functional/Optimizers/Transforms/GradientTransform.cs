using System.Numerics;
using System.Runtime.CompilerServices;

namespace Backprop.Functional;

/// <summary>What a <see cref="GradientTransform"/> can do, stated by the transform itself: the trainer asks, so a new
/// transform plugs in without a list of types anywhere deciding for it.</summary>
[Flags]
public enum TransformCapabilities
{
    /// <summary>Nothing beyond <see cref="GradientTransform.Update{T}(OptimizerState, Span{T}, Span{T}, OptimizerBuffers{T}, in StepContext{T})"/> on the whole vector.</summary>
    None = 0,

    /// <summary>Element i of θ, g and the moments is updated from element i alone (and the step's scalars): the update
    /// may be split into ranges run on several threads, bit-identical to one thread.</summary>
    ElementWise = 1,

    /// <summary>Has a fused update for a one-sample step with ∂C/∂W = δaᵀ formed as it is read
    /// (<see cref="OuterProductUpdate"/>; online learning).</summary>
    FusedOuterProduct = 2,

    /// <summary>Wants its gradient evaluated somewhere other than θ (<see cref="GradientTransform.GradientPoint{T}"/>).</summary>
    LookAhead = 4,

    /// <summary>Writes θ. A chain that trains must have such a member (an optimizer); the others only rewrite g.</summary>
    WritesParameters = 8,
}

/// <summary>What one step tells each transform besides (state, g, θ, moments): the learning rate η of the step, the
/// parameter layout (which tensors are weights), the point where the gradient was evaluated, and where the spans
/// start in θ (non-zero when an element-wise update is split over threads).</summary>
/// <typeparam name="T">The element type.</typeparam>
public readonly ref struct StepContext<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A context with learning rate <paramref name="learningRate"/>, no layout, the gradient taken at θ.</summary>
    /// <param name="learningRate">η for this step.</param>
    public StepContext(double learningRate) => LearningRate = learningRate;

    /// <summary>η for this step (the schedule already applied).</summary>
    public double LearningRate { get; init; }

    /// <summary>The parameter layout of the whole θ; needed by transforms that treat tensors differently (<see cref="L2"/>).</summary>
    public ParameterLayout? Layout { get; init; }

    /// <summary>Where the gradient was evaluated, aligned with the θ span: θ, or a look-ahead point. Empty means θ itself.</summary>
    public ReadOnlySpan<T> Point { get; init; }

    /// <summary>Index in the whole θ of the first element of the spans passed with this context.</summary>
    public int Offset { get; init; }

    /// <summary><see cref="Point"/>, or <paramref name="theta"/> when it is empty, checked against θ's length.</summary>
    internal ReadOnlySpan<T> PointOr(ReadOnlySpan<T> theta)
    {
        if (Point.IsEmpty) return theta;
        if (Point.Length != theta.Length) Shapes.ThrowLengths("the context's point", Point.Length, "theta", theta.Length);
        return Point;
    }
}

/// <summary>
/// One stage between ∂C/∂θ and θ, optax-style: an immutable hyper-parameter record whose pure
/// <see cref="Update{T}(OptimizerState, Span{T}, Span{T}, OptimizerBuffers{T}, in StepContext{T})"/> rewrites g and/or θ
/// (and its moment vectors) in place over spans in the flat layout, and returns the next state. Transforms compose in
/// order with <see cref="Transforms.Chain(GradientTransform[])"/>: <c>Transforms.Chain(new ClipByGlobalNorm(5), new Adam(1e-3))</c>.
/// Every <see cref="Optimizer"/> is one (the last of a chain); <see cref="L2"/>, <see cref="WeightDecay"/>,
/// <see cref="DecoupledWeightDecay"/> and <see cref="ClipByGlobalNorm"/> are the others built in.
/// <para>Each transform states its <see cref="Capabilities"/>: whether it may be split over threads, fused into an online
/// step, evaluated at a look-ahead point, whether it writes θ. Nothing else decides that.</para>
/// <para>Threads: immutable and shareable; the state an update writes (θ, g, the caller's <see cref="OptimizerBuffers{T}"/>)
/// takes one update at a time.</para>
/// </summary>
public abstract record GradientTransform
{
    /// <summary>Number of θ-sized moment vectors this transform keeps (0 for the stateless ones).</summary>
    public virtual int MomentCount => 0;

    /// <summary>What this transform supports; see <see cref="TransformCapabilities"/>. The default is none.</summary>
    public virtual TransformCapabilities Capabilities => TransformCapabilities.None;

    /// <summary>The name recorded in checkpoints and used in messages: the type's name (a chain lists its members).</summary>
    public virtual string Name => GetType().Name;

    /// <summary>η for update number <paramref name="t"/> (0-based): an optimizer's learning rate, a chain's scheduled
    /// rate; 1 for a transform that has none.</summary>
    /// <param name="t">Updates already done.</param>
    /// <returns>The learning rate to pass in the step's <see cref="StepContext{T}"/>.</returns>
    public virtual double LearningRateAt(long t) => 1;

    /// <summary>
    /// Rents and initialises the moment buffers for <paramref name="parameterCount"/> parameters
    /// (zeros, except where the transform specifies an initial value).
    /// </summary>
    /// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="parameterCount">Length of θ.</param>
    /// <returns>Buffers holding <see cref="MomentCount"/> moment vectors; the caller disposes them.</returns>
    public OptimizerBuffers<T> CreateBuffers<T>(int parameterCount)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var buffers = new OptimizerBuffers<T>(MomentCount, parameterCount);
        InitializeBuffers(buffers);
        return buffers;
    }

    /// <summary>Writes transform-specific initial values into freshly zeroed buffers; the default does nothing.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="buffers">Zero-initialised buffers with <see cref="MomentCount"/> moments.</param>
    protected internal virtual void InitializeBuffers<T>(OptimizerBuffers<T> buffers)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
    }

    /// <summary>Where this transform's gradient must be evaluated: θ itself for every rule except one with
    /// <see cref="TransformCapabilities.LookAhead"/> (<see cref="Nesterov"/> in <see cref="NesterovForm.LookAhead"/> form),
    /// whose point θ − μv is written to a θ-sized scratch vector of <paramref name="ws"/> (θ is never moved, so there is
    /// no shift to undo). Every training step — <see cref="Trainer"/>'s and a generated network's <c>TrainStep</c> —
    /// takes its gradient here. Allocates nothing after the first call on a workspace.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="theta">θ.</param>
    /// <param name="buffers">This transform's moments (the velocity, for the look-ahead form).</param>
    /// <param name="ws">The step's workspace, which keeps the scratch vector.</param>
    /// <returns><paramref name="theta"/>, or the look-ahead point.</returns>
    public virtual ReadOnlySpan<T> GradientPoint<T>(ReadOnlySpan<T> theta, OptimizerBuffers<T> buffers, Workspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T> => theta;

    /// <summary>Applies this transform to one step: rewrites <paramref name="g"/> and/or <paramref name="theta"/> and
    /// its moments in place, and returns <c>state with { Step = state.Step + 1 }</c>. The rule is in each type's summary.</summary>
    /// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="state">The state before this update.</param>
    /// <param name="g">The gradient (or what earlier transforms made of it), [θ]; may be rewritten.</param>
    /// <param name="theta">θ (or a range of it, see <see cref="StepContext{T}.Offset"/>), updated in place by transforms that write it.</param>
    /// <param name="buffers">This transform's moments, from <see cref="CreateBuffers{T}(int)"/> (a chain hands each member its share).</param>
    /// <param name="context">η, the layout, the point where g was taken, the offset of the spans.</param>
    /// <returns>The state after this update.</returns>
    /// <exception cref="ArgumentException">Lengths of θ, g and the buffers disagree, or too few moments.</exception>
    public abstract OptimizerState Update<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary><see cref="Update{T}(OptimizerState, Span{T}, Span{T}, OptimizerBuffers{T}, in StepContext{T})"/> with
    /// its element-wise part split over two threads when the transform says it may be; otherwise on this thread.</summary>
    internal virtual OptimizerState UpdateSplit<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        (Capabilities & TransformCapabilities.ElementWise) != 0
            ? ParallelUpdate<T>.Run(this, state, g, theta, buffers, in context)
            : Update(state, g, theta, buffers, in context);

    /// <summary>Computes the per-step scalars of the fused one-sample update of step <paramref name="t"/> (≥ 1)
    /// into <paramref name="scalars"/>, once for all layers. Only called when <see cref="Capabilities"/> has
    /// <see cref="TransformCapabilities.FusedOuterProduct"/>; the default refuses.</summary>
    /// <param name="t">state.Step + 1.</param>
    /// <param name="learningRate">η for this step.</param>
    /// <param name="scalars">Receives this transform's scalars (its own layout).</param>
    protected internal virtual void PrepareFused(long t, double learningRate, ref FusedScalars<float> scalars) => ThrowNotFused();

    /// <inheritdoc cref="PrepareFused(long, double, ref FusedScalars{float})"/>
    protected internal virtual void PrepareFused(long t, double learningRate, ref FusedScalars<double> scalars) => ThrowNotFused();

    /// <summary>Applies the fused update to one dense layer of a one-sample step, with ∂C/∂W = δaᵀ and ∂C/∂b = δ
    /// formed as they are read (see <see cref="FusedLayer{T}"/>). Non-generic on purpose: a virtual call per layer, not
    /// a generic-virtual lookup.</summary>
    /// <param name="scalars">What <see cref="PrepareFused(long, double, ref FusedScalars{float})"/> wrote for this step.</param>
    /// <param name="layer">The layer's θ, moments, δ and input.</param>
    protected internal virtual void UpdateFused(scoped in FusedScalars<float> scalars, scoped in FusedLayer<float> layer) => ThrowNotFused();

    /// <inheritdoc cref="UpdateFused(in FusedScalars{float}, in FusedLayer{float})"/>
    protected internal virtual void UpdateFused(scoped in FusedScalars<double> scalars, scoped in FusedLayer<double> layer) => ThrowNotFused();

    private void ThrowNotFused() => throw OuterProductUpdate.NotFused(this, "optimizer");

    /// <summary>Records of this hierarchy print their own hyper-parameters only.</summary>
    /// <param name="builder">The text being built.</param>
    /// <returns>False: nothing printed here.</returns>
    protected virtual bool PrintMembers(System.Text.StringBuilder builder) => false;
}

/// <summary>Per-step scalars of a fused update (β's, η/(1−β₁ᵗ), λ, …), computed once per step by
/// <see cref="GradientTransform.PrepareFused(long, double, ref FusedScalars{float})"/>; each transform uses its own slots.</summary>
/// <typeparam name="T">The element type.</typeparam>
[InlineArray(12)]
public struct FusedScalars<T>
    where T : unmanaged
{
    private T _element0;
}

/// <summary>One dense layer of a one-sample fused step: θ of the layer (Wˡ [outputs × inputs] then bˡ [outputs]), its
/// offset in the whole θ (moments are sliced there), δˡ and the layer's input aˡ⁻¹. The gradient is ∂C/∂Wᵣⱼ = δᵣaⱼ, ∂C/∂bᵣ = δᵣ.</summary>
/// <typeparam name="T">The element type.</typeparam>
public readonly ref struct FusedLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    internal FusedLayer(Span<T> theta, OptimizerBuffers<T> buffers, int offset, int inputs, int outputs, ReadOnlySpan<T> delta, ReadOnlySpan<T> input)
    {
        Theta = theta;
        Buffers = buffers;
        Offset = offset;
        Inputs = inputs;
        Outputs = outputs;
        Delta = delta;
        Input = input;
    }

    /// <summary>The layer's parameters: Wˡ then bˡ, [outputs × inputs + outputs].</summary>
    public Span<T> Theta { get; }

    /// <summary>The moments of the whole θ.</summary>
    public OptimizerBuffers<T> Buffers { get; }

    /// <summary>Where <see cref="Theta"/> starts in θ (and in each moment).</summary>
    public int Offset { get; }

    /// <summary>Width of aˡ⁻¹.</summary>
    public int Inputs { get; }

    /// <summary>Width of δˡ.</summary>
    public int Outputs { get; }

    /// <summary>δˡ of the sample, [outputs].</summary>
    public ReadOnlySpan<T> Delta { get; }

    /// <summary>aˡ⁻¹ of the sample, [inputs].</summary>
    public ReadOnlySpan<T> Input { get; }

    /// <summary>Moment <paramref name="i"/> over this layer's range.</summary>
    /// <param name="i">The moment index.</param>
    /// <returns>[outputs × inputs + outputs] elements.</returns>
    public Span<T> Moment(int i) => Buffers.Moment(i).Slice(Offset, Theta.Length);
}
