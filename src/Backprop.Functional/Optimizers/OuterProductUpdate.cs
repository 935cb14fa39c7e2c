using System.Numerics;
using System.Numerics.Tensors;

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
/// Generated networks use it in <c>TrainOnline</c>. It covers <see cref="Sgd"/>, <see cref="Adam"/> and
/// <see cref="AdamW"/> with all their options; <see cref="Supports"/> says which. Every layer of one step is updated
/// after all δˡ are known (BP2 reads the old Wˡ⁺¹), with one <see cref="OuterProductUpdate{T}"/> made for that step.
/// </remarks>
public static class OuterProductUpdate
{
    /// <summary>Whether <paramref name="optimizer"/> has a fused path here.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <returns>True for <see cref="Sgd"/>, <see cref="Adam"/> and <see cref="AdamW"/>.</returns>
    public static bool Supports(Optimizer? optimizer) => optimizer is Sgd or Adam or AdamW;

    /// <summary>The update of step <paramref name="step"/>, its scalars computed once for all layers.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="optimizer">A supported optimizer (<see cref="Supports"/>).</param>
    /// <param name="step">t = state.Step + 1, the step being taken; the caller advances its state once.</param>
    /// <param name="learningRate">η for this step.</param>
    /// <returns>The update, to apply to each layer.</returns>
    /// <exception cref="ArgumentException">The optimizer has no fused path.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is less than 1.</exception>
    public static OuterProductUpdate<T> For<T>(Optimizer optimizer, long step, double learningRate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);   // Adam's bias corrections divide by 1 − βᵗ
        return optimizer switch
        {
            Sgd sgd => new(sgd, OptimizerGuard.Of<T>(learningRate), OptimizerGuard.Of<T>(sgd.WeightDecay), T.One, default),
            Adam adam => new(adam, T.Zero, T.Zero, T.One,
                new(step, adam.Beta1, adam.Beta2, adam.Epsilon, adam.Amsgrad, adam.WeightDecay, learningRate)),
            AdamW adamW => new(adamW, T.Zero, T.Zero, OptimizerGuard.Of<T>(1 - (learningRate * adamW.WeightDecay)),
                new(step, adamW.Beta1, adamW.Beta2, adamW.Epsilon, adamW.Amsgrad, 0, learningRate)),
            _ => throw new ArgumentException(
                $"{optimizer.GetType().Name} has no fused outer-product update (Sgd, Adam and AdamW have); check OuterProductUpdate.Supports first",
                nameof(optimizer)),
        };
    }
}

/// <summary>One step's fused update (see <see cref="OuterProductUpdate"/>), applied layer by layer.</summary>
/// <typeparam name="T">The element type.</typeparam>
public readonly struct OuterProductUpdate<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Optimizer _optimizer;
    private readonly T _eta, _lambda, _decay;
    private readonly AdamKernel.Constants<T> _adam;

    internal OuterProductUpdate(Optimizer optimizer, T eta, T lambda, T decay, AdamKernel.Constants<T> adam)
    {
        _optimizer = optimizer;
        _eta = eta;
        _lambda = lambda;
        _decay = decay;
        _adam = adam;
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
        if (_optimizer is null)
        {
            throw new ArgumentException("a default OuterProductUpdate; create it with OuterProductUpdate.For", nameof(theta));
        }

        OptimizerGuard.Check(theta.Length, theta.Length, buffers, _optimizer.MomentCount);
        Shapes.RequireLength(delta, 1, outputs, nameof(delta));
        Shapes.RequireLength(input, 1, inputs, nameof(input));
        int weights = checked(outputs * inputs);
        int count = checked(weights + outputs);
        if (offset < 0 || offset > theta.Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"a layer of {count} parameters at {offset} does not fit in θ of {theta.Length}");
        }

        Span<T> th = theta.Slice(offset, count);
        if (_optimizer is Sgd)
        {
            for (int r = 0; r < outputs; r++)
            {
                SgdKernel.Apply(_eta, _lambda, th.Slice(r * inputs, inputs), new OuterProductRow<T>(delta[r], input));
            }

            SgdKernel.Stored(_eta, _lambda, th.Slice(weights, outputs), delta);
            return;
        }

        if (_decay != T.One)
        {
            TensorPrimitives.Multiply(th, _decay, th);   // AdamW's decoupled decay, before the Adam step
        }

        Span<T> m = buffers.Moment(0).Slice(offset, count);
        Span<T> v = buffers.Moment(1).Slice(offset, count);
        Span<T> vmax = _adam.Amsgrad ? buffers.Moment(2).Slice(offset, count) : default;
        for (int r = 0; r < outputs; r++)
        {
            int at = r * inputs;
            AdamKernel.Apply(_adam, th.Slice(at, inputs), new OuterProductRow<T>(delta[r], input), m.Slice(at, inputs), v.Slice(at, inputs),
                _adam.Amsgrad ? vmax.Slice(at, inputs) : default);
        }

        AdamKernel.Apply(_adam, th.Slice(weights, outputs), new StoredGradient<T>(delta), m.Slice(weights, outputs), v.Slice(weights, outputs),
            _adam.Amsgrad ? vmax.Slice(weights, outputs) : default);
    }
}
