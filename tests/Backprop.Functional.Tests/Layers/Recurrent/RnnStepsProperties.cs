using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The RNN's steps at 8 rows and more (RnnSteps: [W_ih | W_hh] packed once a pass, one product and φ per panel of MR
/// rows; backward δ·W_hh on W_hh packed), which <see cref="RecurrentArbitraries"/>' batches of 1–3 never reach: the
/// finite-difference checks for tanh and ReLU over batches of 8–15 (whole and partial panels), lengths that differ within
/// the batch and inputs with zeros (a panel's product skips the depths that are 0 in all of its rows); and over batches of
/// 16–21 on a two-thread workspace, which runs them as two row halves when the GEMM pool is free, tanh and ReLU.</summary>
public class RnnStepsProperties
{
    private static Gen<RecurrentCase> Cases(string cell) => RecurrentArbitraries.Batched(cell, 8, 15, maxHidden: 10, maxTime: 5, dead: true);

    /// <summary>Stacked layers and input layers (random depth), so ∂C/∂x of an RNN on the packed steps is checked too.</summary>
    private static Gen<RecurrentCase> SplitCases(string cell) => RecurrentArbitraries.Batched(cell, 16, 21, maxHidden: 6, maxTime: 4, threads: 2);

    [Property(MaxTest = 40)]
    public Property Tanh_gradient_equals_central_differences() =>
        Prop.ForAll(Cases("rnn-tanh").ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 40)]
    public Property ReLU_gradient_equals_central_differences() =>
        Prop.ForAll(Cases("rnn-relu").ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 25)]
    public Property Gradient_of_half_batches_equals_central_differences() =>
        Prop.ForAll(SplitCases("rnn-tanh").ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 20)]
    public Property ReLU_gradient_of_half_batches_equals_central_differences() =>
        Prop.ForAll(SplitCases("rnn-relu").ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 30)]
    public Property Initial_state_gradient_equals_central_differences() =>
        Prop.ForAll(Cases("rnn-tanh").ToArbitrary(), c => new RecurrentGradientProperties().Initial_state_gradient_equals_central_differences(c));
}
