using System.Numerics;
using System.Runtime.CompilerServices;

namespace Backprop.Functional;

/// <summary>
/// BP3 and BP4 fused into the optimizer update for a single sample (online learning). With one row,
/// ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ is an outer product: each element is one product δᵣ·aⱼ, so the update forms it in a register as it
/// reads it and the gradient is never stored. On a one-row batch that saves the pass that writes ∂C/∂W (one store per
/// weight, bound by the cache's write bandwidth) and the update's read of it. The numbers are the unfused ones: the same
/// products and the same update operations in the same order, bit for bit (up to the sign of a zero).
/// <para>Threads: no shared state: calls from several threads at once are safe, as long as no two of them write the
/// same buffers.</para>
/// </summary>
/// <remarks>
/// Generated networks use it in <c>TrainOnline</c>. It runs any transform that states
/// <see cref="TransformCapabilities.FusedOuterProduct"/> (built in: <see cref="Sgd"/>, <see cref="Adam"/> and
/// <see cref="AdamW"/> with all their options), through its <c>PrepareFused</c>/<c>UpdateFused</c>; <see cref="Supports"/> asks. Every layer of one step is updated
/// after all δˡ are known (BP2 reads the old Wˡ⁺¹), with one <see cref="OuterProductUpdate{T}"/> made for that step.
/// </remarks>
public static class OuterProductUpdate
{
    /// <summary>Whether <paramref name="optimizer"/> has a fused path: it states <see cref="TransformCapabilities.FusedOuterProduct"/>.</summary>
    /// <param name="optimizer">The optimizer or transform.</param>
    /// <returns>True for <see cref="Sgd"/>, <see cref="Adam"/>, <see cref="AdamW"/> (and a one-member chain of them), or any
    /// transform that states the capability.</returns>
    public static bool Supports(GradientTransform? optimizer) =>
        optimizer is not null && (optimizer.Capabilities & TransformCapabilities.FusedOuterProduct) != 0;

    /// <summary>The update of step <paramref name="step"/>, its scalars computed once for all layers.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="optimizer">A supported optimizer or transform (<see cref="Supports"/>).</param>
    /// <param name="step">t = state.Step + 1, the step being taken; the caller advances its state once.</param>
    /// <param name="learningRate">η for this step.</param>
    /// <returns>The update, to apply to each layer.</returns>
    /// <exception cref="ArgumentException">The optimizer has no fused path (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is less than 1.</exception>
    public static OuterProductUpdate<T> For<T>(GradientTransform optimizer, long step, double learningRate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);   // Adam's bias corrections divide by 1 − βᵗ
        OptimizerGuard.RequireLearningRate(learningRate);
        if (!Supports(optimizer)) throw NotFused(optimizer, nameof(optimizer));
        var scalars = default(FusedScalars<T>);
        if (typeof(T) == typeof(float))
            optimizer.PrepareFused(step, learningRate, ref Unsafe.As<FusedScalars<T>, FusedScalars<float>>(ref scalars));
        else if (typeof(T) == typeof(double))
            optimizer.PrepareFused(step, learningRate, ref Unsafe.As<FusedScalars<T>, FusedScalars<double>>(ref scalars));
        else
            throw new NotSupportedException($"the fused update runs on float and double, not {typeof(T).Name}");
        return new(optimizer, scalars);
    }

    /// <summary>The refusal for a transform without a fused path, naming it.</summary>
    internal static ArgumentException NotFused(GradientTransform transform, string paramName) => new(
        $"{transform.Name} has no fused outer-product update (it does not state TransformCapabilities.FusedOuterProduct; Sgd, Adam and AdamW do); check OuterProductUpdate.Supports first, or train it on stored gradients",
        paramName);
}

/// <summary>One step's fused update (see <see cref="OuterProductUpdate"/>), applied layer by layer.</summary>
/// <typeparam name="T">The element type.</typeparam>
public readonly struct OuterProductUpdate<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly GradientTransform _transform;
    private readonly FusedScalars<T> _scalars;

    internal OuterProductUpdate(GradientTransform transform, FusedScalars<T> scalars)
    {
        _transform = transform;
        _scalars = scalars;
    }

    /// <summary>
    /// One dense layer of a one-sample step: applies the update to Wˡ with ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ (BP4) and to bˡ with
    /// ∂C/∂bˡ = δˡ (BP3), in θ and the moments; nothing else is written.
    /// </summary>
    /// <param name="theta">The whole θ; the layer's Wˡ [outputs × inputs] then bˡ [outputs] start at <paramref name="offset"/>.</param>
    /// <param name="buffers">The optimizer's moments for the whole θ.</param>
    /// <param name="offset">Where Wˡ starts in θ (bˡ follows it, as in <see cref="ParameterLayout"/>).</param>
    /// <param name="inputs">Width of aˡ⁻¹.</param>
    /// <param name="outputs">Width of δˡ.</param>
    /// <param name="delta">δˡ of the sample, [outputs].</param>
    /// <param name="input">aˡ⁻¹ of the sample, [inputs].</param>
    /// <exception cref="ArgumentException">A length does not match, or this is a default instance.</exception>
    public void Layer(Span<T> theta, OptimizerBuffers<T> buffers, int offset, int inputs, int outputs, ReadOnlySpan<T> delta, ReadOnlySpan<T> input)
    {
        if (_transform is null)
        {
            throw new ArgumentException("a default OuterProductUpdate; create it with OuterProductUpdate.For", nameof(theta));
        }

        OptimizerGuard.Check(theta.Length, theta.Length, buffers, _transform.MomentCount);
        Shapes.RequireLength(delta, 1, outputs, nameof(delta));
        Shapes.RequireLength(input, 1, inputs, nameof(input));
        int weights = checked(outputs * inputs);
        int count = checked(weights + outputs);
        if (offset < 0 || offset > theta.Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"a layer of {count} parameters at {offset} does not fit in θ of {theta.Length}");
        }

        var layer = new FusedLayer<T>(theta.Slice(offset, count), buffers, offset, inputs, outputs, delta, input);
        if (typeof(T) == typeof(float))
        {
            _transform.UpdateFused(
                in Unsafe.As<FusedScalars<T>, FusedScalars<float>>(ref Unsafe.AsRef(in _scalars)),
                in Unsafe.As<FusedLayer<T>, FusedLayer<float>>(ref layer));
        }
        else
        {
            _transform.UpdateFused(
                in Unsafe.As<FusedScalars<T>, FusedScalars<double>>(ref Unsafe.AsRef(in _scalars)),
                in Unsafe.As<FusedLayer<T>, FusedLayer<double>>(ref layer));
        }
    }
}
