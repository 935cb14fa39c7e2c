using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The GRU's steps at 8 rows and more (GruSteps: the weights packed once a pass, products and cell per panel of MR rows),
/// which <see cref="RecurrentArbitraries"/>' batches of 1–3 never reach: the finite-difference checks over batches of
/// 8–15 (whole and partial panels), hidden widths that leave a scalar tail after the vectors, lengths that differ
/// within the batch, and inputs with zeros (a panel's product skips the depths that are 0 in all of its rows); and over
/// batches of 16–21 on a two-thread workspace, which runs them as two row halves when the GEMM pool is free.</summary>
public class GruStepsProperties
{
    private static Gen<RecurrentCase> Cases => RecurrentArbitraries.Batched("gru", 8, 15, maxHidden: 10, maxTime: 5, dead: true);

    /// <summary>Stacked layers and input layers (random depth), so ∂C/∂x of a GRU on the packed steps is checked too.</summary>
    private static Gen<RecurrentCase> SplitCases => RecurrentArbitraries.Batched("gru", 16, 21, maxHidden: 6, maxTime: 4, threads: 2);

    [Property(MaxTest = 40)]
    public Property Gradient_equals_central_differences() =>
        Prop.ForAll(Cases.ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    /// <summary>A case a local run drew (a dense layer, two GRU layers with learned states, 15 rows, x with zeros): with the
    /// Richardson stencil at h = 1e-5 an 8.4e-5 entry of the second GRU's W_ih was 1.03e-6 off, the costs' rounding; at
    /// h = 1e-4 (now) it is inside the tolerance.</summary>
    [Property(MaxTest = 1, Replay = "7367951316856686557,8059549040976563817,78")]
    public Property Gradient_equals_central_differences_on_a_drawn_case() =>
        Prop.ForAll(Cases.ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 25)]
    public Property Gradient_of_half_batches_equals_central_differences() =>
        Prop.ForAll(SplitCases.ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 30)]
    public Property Initial_state_gradient_equals_central_differences() =>
        Prop.ForAll(Cases.ToArbitrary(), c => new RecurrentGradientProperties().Initial_state_gradient_equals_central_differences(c));
}
