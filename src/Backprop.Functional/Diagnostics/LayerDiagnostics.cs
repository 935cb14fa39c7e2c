namespace Backprop.Functional;

/// <summary>What a <see cref="LayerProbe{T}"/> saw of one layer over its window (one step, an epoch …): the means
/// over the window's steps of the per-step norms, and unit fractions over every sample of the window.
/// Null where a figure is not defined for the layer (see each).
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Index">The layer's index, 0 first.</param>
/// <param name="Layer">The layer's description.</param>
/// <param name="DeltaNorm">‖δˡ‖ = ‖∂C/∂zˡ‖, the Frobenius norm over the batch's [rows × outputs] with C the batch's
/// mean cost (so it shrinks with the batch as 1/√rows for like samples); dense layers only.</param>
/// <param name="WeightGradientNorm">‖∂C/∂Wˡ‖: the Frobenius norm of the layer's matrices' gradients (a recurrent
/// layer: all of its weight matrices together).</param>
/// <param name="BiasGradientNorm">‖∂C/∂bˡ‖: the norm of the layer's bias vectors' gradients (0 for a layer without).</param>
/// <param name="UpdateRatio">‖ΔWˡ‖/‖Wˡ‖ of the step, over the layer's matrices; null when the probe never saw the θ
/// before a step (no <see cref="LayerProbe{T}.Begin"/>).</param>
/// <param name="SaturatedFraction">Fraction of (sample, unit) pairs with σ′(z) below <see cref="LayerProbeOptions.Saturation"/>
/// · max σ′; dense sigmoid and tanh layers only.</param>
/// <param name="DeadFraction">Fraction of units whose output was 0 on every sample of the window; dense ReLU layers only.</param>
/// <param name="LowActivationFraction">Fraction of (sample, unit) pairs with |a| &lt; <see cref="LayerProbeOptions.LowActivation"/>;
/// dense hidden layers only (the last layer's output feeds no weights).</param>
public sealed record LayerDiagnostics(
    int Index,
    Layer Layer,
    double? DeltaNorm,
    double WeightGradientNorm,
    double BiasGradientNorm,
    double? UpdateRatio,
    double? SaturatedFraction,
    double? DeadFraction,
    double? LowActivationFraction);
