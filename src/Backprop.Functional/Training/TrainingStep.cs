using System.Numerics;
using System.Runtime.CompilerServices;

namespace Backprop.Functional;

/// <summary>How <see cref="TrainingStep.Run{T, TNet}"/> takes a step's gradient.</summary>
public enum StepMode
{
    /// <summary>Fused when it can be (one sample, every layer with parameters dense, a transform stating
    /// <see cref="TransformCapabilities.FusedOuterProduct"/>), stored otherwise. What <see cref="Trainer"/> uses.</summary>
    Auto,

    /// <summary>∂C/∂θ written into the gradient vector, then the transform's update (a generated <c>TrainStep</c>).</summary>
    Stored,

    /// <summary>One sample, ∂C/∂θ formed inside the update and never stored (<see cref="OuterProductUpdate"/>; online
    /// learning, a generated <c>TrainOnline</c>); refused by name when the network or the transform cannot.</summary>
    Fused,
}

/// <summary>What a training step needs of a network: its description, its forward pass and its backward pass. The
/// runtime network and every generated network implement it with a struct, and <see cref="TrainingStep.Run{T, TNet}"/>
/// takes it through a struct constraint: closed generic calls the compiler can inline, no interface call at run time.</summary>
/// <typeparam name="T">The element type.</typeparam>
public interface ITrainable<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The layers, the cost and the layout of θ.</summary>
    NetworkSpec Spec { get; }

    /// <summary>The forward pass of the rows of <paramref name="x"/> at <paramref name="theta"/> into <paramref name="ws"/>.</summary>
    /// <param name="theta">θ (or the point the gradient is taken at).</param>
    /// <param name="x">Inputs, [rows × inputs].</param>
    /// <param name="ws">The workspace.</param>
    void Forward(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws);

    /// <summary>After <see cref="Forward"/>: δᴸ scaled by 1/m (<see cref="Equations.OutputDelta{TLoss, TAct, T}"/>),
    /// every δˡ and, when <paramref name="parameterGradients"/>, ∂C/∂θ into <paramref name="gradient"/>.</summary>
    /// <param name="theta">As passed to <see cref="Forward"/>.</param>
    /// <param name="x">As passed to <see cref="Forward"/>.</param>
    /// <param name="y">Targets, [rows × outputs].</param>
    /// <param name="ws">The workspace holding the forward pass.</param>
    /// <param name="gradient">∂C/∂θ, written when <paramref name="parameterGradients"/> (otherwise ignored).</param>
    /// <param name="parameterGradients">False: only the δˡ, for an update that forms ∂C/∂θ itself.</param>
    /// <returns>The batch's mean cost.</returns>
    T Backward(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient, bool parameterGradients);
}

/// <summary>The runtime network as an <see cref="ITrainable{T}"/>: <see cref="Equations"/> on its spec.</summary>
internal readonly struct SpecTrainable<T>(NetworkSpec spec) : ITrainable<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public NetworkSpec Spec => spec;

    public void Forward(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws) => Equations.Forward(spec, theta, x, ws);

    public T Backward(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient, bool parameterGradients) =>
        parameterGradients ? Equations.Backward(spec, theta, x, y, ws, gradient) : Equations.Deltas(spec, theta, x, y, ws);
}

/// <summary>
/// The one training step, written once: the runtime (<see cref="Trainer.Step{T}(Network{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, TrainState{T})"/>,
/// <see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, Action{EpochResult}?, Action{int, int}?)"/>),
/// the online path (<see cref="Network{T}.TrainOnline"/>) and every generated network's <c>TrainStep</c> and
/// <c>TrainOnline</c> call it. A step is the gradient, then the transform chain:
/// <list type="bullet">
/// <item>stored: the gradient point (<see cref="GradientTransform.GradientPoint{T}"/>: θ, or a look-ahead point), the forward
/// pass there, ∂C/∂θ into the gradient vector, then <see cref="GradientTransform.Update{T}(OptimizerState, Span{T}, Span{T}, OptimizerBuffers{T}, in StepContext{T})"/>
/// (split over two threads when the workspace has more and θ is large; bit-identical to one thread);</item>
/// <item>fused (one sample): the forward pass, every δˡ, then each dense layer's <see cref="OuterProductUpdate{T}"/> with
/// ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ formed as it is read; the same bits as the stored step up to the sign of a zero.</item>
/// </list>
/// A non-finite cost returns before anything is updated (θ, the moments and the state as they were). Allocates nothing.
/// </summary>
public static class TrainingStep
{
    /// <summary>One step of <paramref name="net"/> on a batch; see <see cref="TrainingStep"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <typeparam name="TNet">The network's forward and backward passes (a struct: the calls are closed and inlined).</typeparam>
    /// <param name="net">The network.</param>
    /// <param name="theta">θ, updated in place.</param>
    /// <param name="x">Inputs, [rows × inputs] (one row for the fused step).</param>
    /// <param name="y">Targets, [rows × outputs].</param>
    /// <param name="ws">A workspace for the network.</param>
    /// <param name="gradient">∂C/∂θ, written by the stored step (ignored by the fused one).</param>
    /// <param name="transform">The transform chain (an optimizer alone is one).</param>
    /// <param name="state">The step count, advanced by one when θ is updated.</param>
    /// <param name="buffers">The transform's moments.</param>
    /// <param name="learningRate">η for this step.</param>
    /// <param name="mode">Stored, fused, or fused when it can be.</param>
    /// <returns>The batch's mean cost before the update (at the gradient point).</returns>
    /// <exception cref="ArgumentException">A shape does not match, y holds NaN or infinity, or a fused step was asked
    /// of a batch, a network with non-dense parameters or a transform without a fused update (the message names it).</exception>
    public static T Run<T, TNet>(TNet net, Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient,
        GradientTransform transform, ref OptimizerState state, OptimizerBuffers<T> buffers, double learningRate, StepMode mode)
        where T : unmanaged, IFloatingPointIeee754<T> where TNet : struct, ITrainable<T> =>
        RunSharded(net, theta, x, y, ws, gradient, transform, ref state, buffers, learningRate, mode, 1);

    /// <summary>The step with the batch's gradient taken over <paramref name="microShards"/> micro-shards on the
    /// workspace's threads (<see cref="DataParallel{T}"/>; 1: unsharded, the threads go to the GEMMs). The fused
    /// one-sample step is unaffected.</summary>
    internal static T RunSharded<T, TNet>(TNet net, Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient,
        GradientTransform transform, ref OptimizerState state, OptimizerBuffers<T> buffers, double learningRate, StepMode mode, int microShards)
        where T : unmanaged, IFloatingPointIeee754<T> where TNet : struct, ITrainable<T>
    {
        ArgumentNullException.ThrowIfNull(transform);
        ArgumentOutOfRangeException.ThrowIfLessThan(microShards, 1);
        OptimizerGuard.RequireLearningRate(learningRate);   // before anything is computed, whichever update follows
        var spec = net.Spec;
        if (mode == StepMode.Auto && x.Length == spec.Inputs && spec.DenseOnly && OuterProductUpdate.Supports(transform))
        {
            if (gradient.Length != theta.Length)   // the same refusal as the stored path's
                Shapes.ThrowLengths("gradient", gradient.Length, "theta", theta.Length);
            mode = StepMode.Fused;
        }
        if (mode == StepMode.Fused) return Fused(net, spec, theta, x, y, ws, transform, ref state, buffers, learningRate);

        ReadOnlySpan<T> at = transform.GradientPoint((ReadOnlySpan<T>)theta, buffers, ws);
        T cost;
        bool split = ws.Threads > 1 && gradient.Length >= ParallelUpdate<T>.MinimumLength;
        long t0 = 0, t1 = 0, t2 = 0;   // the probe's stamps (bench only; 0 when it is off)
        ParallelUpdate<T>.IPrelude? sum = null;   // the shards' sum, run by the split update on each thread's half
        if (DataParallel<T>.Applies(spec, microShards, x, y, ws))
            cost = DataParallel<T>.Gradient(net, at, x, y, ws, gradient, microShards,
                deferSum: split && (transform.Capabilities & TransformCapabilities.ElementWise) != 0, out sum);
        else if (LayerwiseUpdate.Enabled && typeof(TNet) == typeof(SpecTrainable<T>)
            && (transform.Capabilities & TransformCapabilities.ElementWise) != 0)
            return Layerwise(spec, theta, at, x, y, ws, gradient, transform, ref state, buffers, learningRate);
        else
        {
            t0 = StepProbe.Now();
            StepProbe.Begin();
            net.Forward(at, x, ws);
            t1 = StepProbe.Now();
            cost = net.Backward(at, x, y, ws, gradient, parameterGradients: true);
            t2 = StepProbe.Now();
        }
        if (!T.IsFinite(cost)) return cost;
        var context = new StepContext<T> { LearningRate = learningRate, Layout = spec.Layout, Point = at };
        state = sum is not null ? ParallelUpdate<T>.Run(transform, state, gradient, theta, buffers, in context, sum)   // = UpdateSplit
            : split ? transform.UpdateSplit(state, gradient, theta, buffers, in context)
            : transform.Update(state, gradient, theta, buffers, in context);
        StepProbe.Phase(StepProbe.Update, 15);
        StepProbe.End();
        StepProbe.Plain(t0, t1, t2);
        return cost;
    }

    /// <summary>The stored step of an element-wise transform with each layer's range of θ updated as soon as that
    /// layer's backward pass has ended (top layer first), while its ∂C/∂θ is still in the caches, instead of one pass
    /// over all of θ after the backward pass (one thread 1.05–1.06× on W2, 1.03× on W3; two threads level: bench/RESULTS.md,
    /// "Eighth pass"). Each element sees the same operations as in the whole update, in the same order, and a layer's backward
    /// pass reads only its own range of the gradient point (BP2's product with the old Wˡ ends before Wˡ is updated), so
    /// θ, the moments and ∂C/∂θ are the same bits. The cost is known before the first layer's backward pass, so a
    /// non-finite cost returns before anything moves, as in the whole step.</summary>
    private static T Layerwise<T>(NetworkSpec spec, Span<T> theta, ReadOnlySpan<T> at, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        Workspace<T> ws, Span<T> gradient, GradientTransform transform, ref OptimizerState state, OptimizerBuffers<T> buffers,
        double learningRate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(buffers);
        long t0 = StepProbe.Now();
        StepProbe.Begin();
        Equations.Forward(spec, at, x, ws);
        long t1 = StepProbe.Now();
        int rows = Equations.Check(spec, at, x, ws);
        if (gradient.Length != theta.Length) Shapes.ThrowLengths("gradient", gradient.Length, "theta", theta.Length);
        if (buffers.Length != theta.Length || (at != (ReadOnlySpan<T>)theta && at.Length != theta.Length))
        {   // the whole update's refusal and its message
            T c = Equations.OutputDelta(spec, y, ws, rows);
            Equations.BackwardFrom(spec, at, x, ws, spec.Layers.Count - 1, rows, gradient, parameterGradients: true);
            if (!T.IsFinite(c)) return c;
            var context = new StepContext<T> { LearningRate = learningRate, Layout = spec.Layout, Point = at };
            state = transform.Update(state, gradient, theta, buffers, in context);
            return c;
        }
        T cost = Equations.OutputDelta(spec, y, ws, rows);
        if (!T.IsFinite(cost)) return cost;
        var done = new LayerwiseUpdate<T>
        {
            Theta = theta, Gradient = gradient, Point = at, Transform = transform,
            State = state, Next = state with { Step = state.Step + 1 }, Buffers = buffers, LearningRate = learningRate,
            Layout = spec.Layout, Threads = ws.Threads,
        };
        Equations.BackwardFrom(spec, at, x, ws, spec.Layers.Count - 1, rows, gradient, parameterGradients: true, ref done);
        done.Late = true;   // the ranges too large to be in the caches still: after the backward pass, as before
        for (int l = spec.Layers.Count - 1; l >= 0; l--)
            done.Done(l, spec.Layout.LayerOffset(l), spec.Layout.LayerLength(l));
        state = done.Next;
        long t2 = StepProbe.Now();
        StepProbe.End();
        StepProbe.Plain(t0, t1, t2);
        return cost;
    }

    /// <summary>The fused one-sample step: every δˡ (BP1, BP2), then each dense layer updated with ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ
    /// and ∂C/∂bˡ = δˡ formed inside the update (BP4, BP3), after all δˡ are known (BP2 reads the old Wˡ⁺¹).</summary>
    private static T Fused<T, TNet>(TNet net, NetworkSpec spec, Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws,
        GradientTransform transform, ref OptimizerState state, OptimizerBuffers<T> buffers, double learningRate)
        where T : unmanaged, IFloatingPointIeee754<T> where TNet : struct, ITrainable<T>
    {
        ArgumentNullException.ThrowIfNull(buffers);
        if (!spec.DenseOnly) ThrowNotDense(spec);
        if (x.Length != spec.Inputs)
            throw new ArgumentException($"an online step takes one sample of [{spec.Inputs}], but x has {x.Length} values ({x.Length / spec.Inputs} samples)", nameof(x));
        var update = OuterProductUpdate.For<T>(transform, state.Step + 1, learningRate);
        net.Forward(theta, x, ws);
        T cost = net.Backward(theta, x, y, ws, default, parameterGradients: false);
        if (!T.IsFinite(cost)) return cost;
        var layout = spec.Layout;
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            if (spec.Layers[l] is not Dense d) continue;   // a kind without parameters (DenseOnly)
            update.Layer(theta, buffers, layout.Weight(l).Offset, d.Inputs, d.Outputs, ws.Delta(l, 1), l == 0 ? x : ws.A(l - 1, 1));
        }
        state = state with { Step = state.Step + 1 };
        return cost;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotDense(NetworkSpec spec)
    {
        for (int l = 0; l < spec.Layers.Count; l++)
            if (spec.Layers[l] is not Dense && spec.Layout.SlotsOf(l).Length > 0)
                throw new ArgumentException($"the fused online step updates dense layers only, but layer {l} ({spec.Layers[l].Kind}) has parameters; train this network with Trainer.Step, which takes the stored-gradient path for it", nameof(spec));
        throw new ArgumentException("the fused online step updates dense layers only", nameof(spec));
    }
}

/// <summary>The layer-by-layer update of <see cref="TrainingStep"/>: after each layer's backward pass, the transform on
/// that layer's range of θ, ∂C/∂θ and the moments (split over two threads when the workspace has them and the range is
/// large), with the range's offset in the step context.</summary>
internal ref struct LayerwiseUpdate<T> : Equations.ILayerDone where T : unmanaged, IFloatingPointIeee754<T>
{
    public Span<T> Theta, Gradient;
    public ReadOnlySpan<T> Point;
    public GradientTransform Transform;
    public OptimizerState State, Next;
    public OptimizerBuffers<T> Buffers;
    public double LearningRate;
    public ParameterLayout Layout;
    public int Threads;

    /// <summary>False during the backward pass (ranges of at most <see cref="LayerwiseUpdate.MaxBytes"/> are updated),
    /// true after it (the larger ones).</summary>
    public bool Late;

    public void Done(int layer, int offset, int length)
    {
        if (length == 0 || (long)length * Unsafe.SizeOf<T>() > LayerwiseUpdate.MaxBytes != Late) return;
        var context = new StepContext<T>
        {
            LearningRate = LearningRate, Layout = Layout, Offset = offset,
            Point = Point.Slice(offset, length),
        };
        var g = Gradient.Slice(offset, length);
        var theta = Theta.Slice(offset, length);
        var buffers = Buffers.Range(offset, length);
        Next = Threads > 1 && length >= ParallelUpdate<T>.MinimumLength
            ? ParallelUpdate<T>.Run(Transform, State, g, theta, buffers, in context, null, Theta.Length)
            : Transform.Update(State, g, theta, buffers, in context);
        StepProbe.Phase(StepProbe.Update, layer);
    }
}

/// <summary>The switch of <see cref="LayerwiseUpdate{T}"/>.</summary>
internal static class LayerwiseUpdate
{
    /// <summary>Whether the stored step of an element-wise transform updates each layer after its backward pass (the
    /// bench switches it by reflection).</summary>
    internal static bool Enabled = true;

    /// <summary>A layer's range of θ larger than this (a core's L2 here) is updated after the backward pass, as the whole
    /// update was: its gradient is out of the L2 by the time the layer's backward pass ends, and on W3 (3.2 and 4.2 MB
    /// layers) updating them between the layers' passes measured 0.96–1.04× of the whole update on two threads, with the
    /// probe's backward + update longer in four runs of four (bench/RESULTS.md, "Eighth pass").</summary>
    internal static long MaxBytes = 1 << 20;
}
