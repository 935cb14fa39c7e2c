namespace Backprop.Functional;

/// <summary>When <see cref="ConjugateGradient{T}"/> stops and which iterates it keeps. Defaults are Martens' (2010)
/// Hessian-free settings.</summary>
/// <param name="MaxIterations">At most this many iterations (default 250, the cap in Martens' released HF code).</param>
/// <param name="MinIterations">At least this many before the progress rule may stop (default 1).</param>
/// <param name="ProgressTolerance">ε of Martens' relative-progress rule (§4.4, default 5·10⁻⁴): stop at iteration i
/// when i &gt; k, φ(dᵢ) &lt; 0 and (φ(dᵢ) − φ(dᵢ₋ₖ))/φ(dᵢ) &lt; kε, with k = max(10, ⌈0.1 i⌉) and
/// φ(d) = ½dᵀ(B + λI)d − bᵀd. 0 turns the rule off.</param>
/// <param name="ResidualTolerance">τ: also stop when rᵀM⁻¹r ≤ τ²·r₀ᵀM⁻¹r₀ (r = b − (B + λI)d, M the preconditioner);
/// default 0, only an exact zero residual stops.</param>
/// <param name="KeepFirst">The first kept iterate's index (default 5, as in Martens' code).</param>
/// <param name="KeepRatio">Kept iterates sit at iterations ⌈KeepFirst·γʲ⌉, j = 0, 1, …, with γ = this ratio
/// (default 1.3, Martens 2010 §4.6), plus the last; a logarithmic number of vectors for CG backtracking.</param>
public sealed record ConjugateGradientOptions(
    int MaxIterations = 250,
    int MinIterations = 1,
    double ProgressTolerance = 5e-4,
    double ResidualTolerance = 0,
    int KeepFirst = 5,
    double KeepRatio = 1.3)
{
    /// <summary>At least 1.</summary>
    public int MaxIterations { get; init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxIterations), value, "at least 1"); } =
        MaxIterations >= 1 ? MaxIterations : throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "at least 1");

    /// <summary>At least 0.</summary>
    public int MinIterations { get; init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(MinIterations), value, "at least 0"); } =
        MinIterations >= 0 ? MinIterations : throw new ArgumentOutOfRangeException(nameof(MinIterations), MinIterations, "at least 0");

    /// <summary>A finite number ≥ 0.</summary>
    public double ProgressTolerance { get; init => field = HyperParameter.NonNegative(value, nameof(ProgressTolerance)); } =
        HyperParameter.NonNegative(ProgressTolerance, nameof(ProgressTolerance));

    /// <summary>A finite number ≥ 0.</summary>
    public double ResidualTolerance { get; init => field = HyperParameter.NonNegative(value, nameof(ResidualTolerance)); } =
        HyperParameter.NonNegative(ResidualTolerance, nameof(ResidualTolerance));

    /// <summary>At least 1.</summary>
    public int KeepFirst { get; init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(KeepFirst), value, "at least 1"); } =
        KeepFirst >= 1 ? KeepFirst : throw new ArgumentOutOfRangeException(nameof(KeepFirst), KeepFirst, "at least 1");

    /// <summary>Greater than 1, finite.</summary>
    public double KeepRatio { get; init => field = value > 1 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(KeepRatio), value, "a finite number > 1"); } =
        KeepRatio > 1 && double.IsFinite(KeepRatio) ? KeepRatio : throw new ArgumentOutOfRangeException(nameof(KeepRatio), KeepRatio, "a finite number > 1");
}
