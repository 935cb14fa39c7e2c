namespace Backprop.Functional;

/// <summary>What the last <see cref="HessianFree{T}.Update"/> did.</summary>
/// <param name="CgIterations">CG iterations (Gv products) of the solve.</param>
/// <param name="Stop">Why CG stopped.</param>
/// <param name="Backtracked">The CG iteration whose iterate backtracking chose.</param>
/// <param name="Rho">The reduction ratio ρ of the chosen iterate (−∞ when the cost rose or is not finite).</param>
/// <param name="StepSize">α of the line search (0: no step was taken).</param>
/// <param name="Damping">λ the solve used (the next update uses <see cref="HessianFree{T}.Damping"/>).</param>
public readonly record struct HessianFreeStep(int CgIterations, ConjugateGradientStop Stop, int Backtracked, double Rho, double StepSize, double Damping);
