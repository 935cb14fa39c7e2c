using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>
/// Plain stochastic gradient descent: θ ← θ − η g (with weight decay λ: θ ← θ − η(g + λθ)).
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient.</param>
/// <remarks>
/// Equals <c>torch.optim.SGD(lr, momentum=0, weight_decay)</c> and the textbook update.
/// Keeps no moments.
/// </remarks>
public sealed record Sgd(double LearningRate = 0.01, double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <inheritdoc/>
    public override int MomentCount => 0;

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>θ ← θ − η(g + λθ); see <see cref="Sgd"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers (none are used).</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        Sgd h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, 0);
        T eta = OptimizerGuard.Of<T>(lr);
        if (h.WeightDecay == 0)
        {
            // θ + (−η)·g, computed unfused: bit-identical to θ − η·g.
            TensorPrimitives.MultiplyAdd(g, -eta, theta, theta);
        }
        else
        {
            T lambda = OptimizerGuard.Of<T>(h.WeightDecay);
            for (int i = 0; i < theta.Length; i++)
            {
                T gi = g[i] + lambda * theta[i];
                theta[i] -= eta * gi;
            }
        }

        return s with { Step = s.Step + 1 };
    }
}
