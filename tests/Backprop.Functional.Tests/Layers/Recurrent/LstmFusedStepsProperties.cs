using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The LSTM's fused steps (LstmSteps: W_hh packed once, product and cell per panel of MR rows) run from 8 rows
/// in a batch, which <see cref="RecurrentArbitraries"/>' batches of 1–3 never reach: the same finite-difference checks
/// over batches of 8–15 (whole and partial panels), hidden widths that leave a scalar tail after the vectors, and
/// lengths that differ within the batch.</summary>
public class LstmFusedStepsProperties
{
    private static Gen<RecurrentCase> Cases =>
        from c in RecurrentArbitraries.Gen(maxTime: 5)
        from batch in Gen.Choose(8, 15)
        from hidden in Gen.Choose(1, 10)
        from differ in Gen.Elements(false, true)
        from lengths in Gen.ArrayOf(Gen.Choose(1, c.Time), batch)
        select c with { Cell = "lstm", Hidden = hidden, Batch = batch, Lengths = differ ? lengths : [] };

    [Property(MaxTest = 40)]
    public Property Gradient_equals_central_differences() =>
        Prop.ForAll(Cases.ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 30)]
    public Property Initial_state_gradient_equals_central_differences() =>
        Prop.ForAll(Cases.ToArbitrary(), c => new RecurrentGradientProperties().Initial_state_gradient_equals_central_differences(c));
}
