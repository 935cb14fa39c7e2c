namespace Backprop.Functional;

/// <summary>The thresholds a <see cref="LayerProbe{T}"/> counts units against.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Saturation">A sigmoid or tanh unit is saturated on a sample when σ′(z) &lt; Saturation · max σ′, i.e.
/// it passes back less than this fraction of the most gradient it could. Default 0.01: sigmoid σ′(z) &lt; 0.0025
/// (max ¼), which is |z| &gt; 5.99, a within 0.0025 of 0 or 1; tanh σ′(z) &lt; 0.01 (max 1), which is |z| &gt; 2.99,
/// |a| &gt; 0.995. Only these two bounded activations saturate both ways; other kinds report no saturated fraction.</param>
/// <param name="LowActivation">A hidden unit's activation is low on a sample when |a| &lt; LowActivation (default
/// 0.01): the next layer's weights out of it then get ∂C/∂wⱼₖ = aₖδⱼ ≈ 0 from that sample, whatever δ is.</param>
/// <param name="Every">Read one step in this many: steps k, 2k, 3k … of those shown to <see cref="LayerProbe{T}.Observe"/>
/// (default 1: every step); the steps not read cost a modulo (and a copy of θ on the step before one whose update
/// ratio is measured, see RatioEvery). A window's figures are then means over the steps read, its dead units those of the
/// samples of those steps.</param>
/// <param name="RatioEvery">Measure the update ratio ‖ΔWˡ‖/‖Wˡ‖ on one step read in this many (default 4: steps
/// 4·Every, 8·Every …; 1: every step read). The ratio needs θ from before the step, a copy of θ made by the step
/// before; that copy and the pass comparing θ with it are three of the four passes over the parameters a fully read
/// step makes (the fourth is ∂C/∂θ for the gradient norms). On MNIST 784-128-10 at batch 64 a step read with the ratio
/// every step costs about 5 % of the step's time, with the default about half that (bench/RESULTS.md, "Layer probe").
/// A window's update ratio is the mean over the steps it was measured on (none yet: null).</param>
public sealed record LayerProbeOptions(double Saturation = 0.01, double LowActivation = 0.01, int Every = 1, int RatioEvery = 4)
{
    /// <summary>The update ratio is measured on one step read in this many (≥ 1).</summary>
    public int RatioEvery { get; } = RatioEvery >= 1 ? RatioEvery
        : throw new ArgumentOutOfRangeException(nameof(RatioEvery), RatioEvery, "the update ratio is measured on one step read in k, k ≥ 1");

    /// <summary>The probe reads one step in this many (≥ 1).</summary>
    public int Every { get; } = Every >= 1 ? Every
        : throw new ArgumentOutOfRangeException(nameof(Every), Every, "the probe reads one step in k, k ≥ 1");

    /// <summary>Fraction of max σ′ below which a unit is saturated (0 &lt; Saturation &lt; 1).</summary>
    public double Saturation { get; } = Saturation is > 0 and < 1 ? Saturation
        : throw new ArgumentOutOfRangeException(nameof(Saturation), Saturation, "the saturation threshold is a fraction of max σ′, between 0 and 1 (exclusive)");

    /// <summary>|a| below which an activation is low (≥ 0, finite).</summary>
    public double LowActivation { get; } = LowActivation >= 0 && double.IsFinite(LowActivation) ? LowActivation
        : throw new ArgumentOutOfRangeException(nameof(LowActivation), LowActivation, "the low-activation threshold must be a finite number ≥ 0");

    /// <summary>The |z| above which a unit with activation <paramref name="kind"/> is saturated (σ′(z) &lt;
    /// <see cref="Saturation"/> · max σ′), or null when the kind does not saturate both ways. Closed forms: sigmoid
    /// σ′ = s(1 − s) = c gives s = (1 + √(1 − 4c))/2 and z = ln(s/(1 − s)); tanh 1 − tanh²z = c gives z = atanh √(1 − c).</summary>
    public double? SaturatedAbove(ActivationKind kind)
    {
        switch (kind)
        {
            case ActivationKind.Sigmoid:
                double c = Saturation / 4, s = (1 + Math.Sqrt(1 - 4 * c)) / 2;
                return Math.Log(s / (1 - s));
            case ActivationKind.Tanh:
                return Math.Atanh(Math.Sqrt(1 - Saturation));
            default:
                return null;
        }
    }
}
