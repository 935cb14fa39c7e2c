namespace Backprop.Functional;

/// <summary>The preconditioner of Hessian-free's conjugate gradient (<see cref="HessianFreeOptions.Preconditioner"/>).</summary>
public enum HessianFreePreconditioner
{
    /// <summary>Martens' (2010 §4.7) M = diag((1/m) Σᵢ ∇ℓᵢ⊙∇ℓᵢ + λ)^ξ from the gradient's batch (ξ =
    /// <see cref="HessianFreeOptions.PreconditionerExponent"/>; 0 runs CG unpreconditioned). Networks with other than
    /// dense layers run unpreconditioned.</summary>
    Diagonal,

    /// <summary>Kronecker-factored blocks (Martens &amp; Grosse 2015): per dense layer M = (A + πγ I) ⊗ (G + (γ/π) I),
    /// γ = √λ, with A = E[āāᵀ] and G = E[ggᵀ] from the curvature rows at targets drawn from the model, rebuilt every
    /// update and inverted by Woodbury's identity (about one extra Gv product per CG iteration); every layer must be dense.
    /// <see cref="HessianFreeOptions.PreconditionerExponent"/> does not apply.</summary>
    KFac,
}
