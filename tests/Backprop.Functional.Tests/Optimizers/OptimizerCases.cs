using Xunit;
using FsCheck;
using FsCheck.Fluent;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>One generated test case: hyper-parameters, parameter count and the seed for θ₀ and the gradients.</summary>
public sealed record OptimizerCase(Optimizer Optimizer, int Length, int Seed);

/// <summary>Generators for every optimizer variant, hyper-parameters drawn from sensible ranges.</summary>
internal static class OptimizerCases
{
    public static readonly string[] Variants =
    [
        "Sgd", "SgdWeightDecay",
        "MomentumTorch", "MomentumTorchDampening", "MomentumTorchWeightDecay",
        "MomentumClassic", "MomentumClassicDampening", "MomentumClassicWeightDecay",
        "NesterovTorch", "NesterovTorchWeightDecay", "NesterovLookAhead", "NesterovLookAheadWeightDecay",
        "Adagrad", "AdagradLrDecay", "AdagradInitialAccumulator", "AdagradWeightDecay",
        "RmsProp", "RmsPropCentered", "RmsPropMomentum", "RmsPropCenteredMomentum", "RmsPropWeightDecay",
        "Adam", "AdamAmsgrad", "AdamWeightDecay", "AdamAmsgradWeightDecay",
        "AdamW", "AdamWAmsgrad", "AdamWNoDecay",
        "AdaDelta", "AdaDeltaWeightDecay",
    ];

    public static TheoryData<string> VariantData()
    {
        var data = new TheoryData<string>();
        foreach (string v in Variants)
        {
            data.Add(v);
        }

        return data;
    }

    private static Gen<double> Range(int lo, int hi, double scale) => Gen.Choose(lo, hi).Select(k => k * scale);

    private static Gen<double> Lr => Range(1, 500, 1e-3);

    private static Gen<double> Mu => Range(0, 99, 1e-2);

    private static Gen<double> PositiveMu => Range(1, 99, 1e-2);

    private static Gen<double> Decay => Range(1, 100, 1e-3);

    private static Gen<double> Dampening => Range(1, 9, 0.1);

    private static Gen<double> Eps => Gen.Elements(1e-10, 1e-8, 1e-6, 1e-3);

    public static Gen<Optimizer> For(string variant) => variant switch
    {
        "Sgd" => Lr.Select(lr => (Optimizer)new Sgd(lr)),
        "SgdWeightDecay" => Gen.Zip(Lr, Decay, (lr, wd) => (Optimizer)new Sgd(lr, wd)),
        "MomentumTorch" => Gen.Zip(Lr, Mu, (lr, mu) => (Optimizer)new Momentum(lr, mu)),
        "MomentumTorchDampening" => Zip3(Lr, Mu, Dampening).Select(x => (Optimizer)new Momentum(x.Item1, x.Item2, x.Item3)),
        "MomentumTorchWeightDecay" => Zip3(Lr, Mu, Decay).Select(x => (Optimizer)new Momentum(x.Item1, x.Item2, WeightDecay: x.Item3)),
        "MomentumClassic" => Gen.Zip(Lr, Mu, (lr, mu) => (Optimizer)new Momentum(lr, mu, Form: MomentumForm.Classic)),
        "MomentumClassicDampening" => Zip3(Lr, Mu, Dampening).Select(x => (Optimizer)new Momentum(x.Item1, x.Item2, x.Item3, MomentumForm.Classic)),
        "MomentumClassicWeightDecay" => Zip3(Lr, Mu, Decay).Select(x => (Optimizer)new Momentum(x.Item1, x.Item2, 0, MomentumForm.Classic, x.Item3)),
        "NesterovTorch" => Gen.Zip(Lr, Mu, (lr, mu) => (Optimizer)new Nesterov(lr, mu)),
        "NesterovTorchWeightDecay" => Zip3(Lr, Mu, Decay).Select(x => (Optimizer)new Nesterov(x.Item1, x.Item2, WeightDecay: x.Item3)),
        "NesterovLookAhead" => Gen.Zip(Lr, Mu, (lr, mu) => (Optimizer)new Nesterov(lr, mu, NesterovForm.LookAhead)),
        "NesterovLookAheadWeightDecay" => Zip3(Lr, Mu, Decay).Select(x => (Optimizer)new Nesterov(x.Item1, x.Item2, NesterovForm.LookAhead, x.Item3)),
        "Adagrad" => Gen.Zip(Lr, Eps, (lr, eps) => (Optimizer)new Adagrad(lr, Epsilon: eps)),
        "AdagradLrDecay" => Gen.Zip(Lr, Range(1, 100, 1e-2), (lr, d) => (Optimizer)new Adagrad(lr, d)),
        "AdagradInitialAccumulator" => Gen.Zip(Lr, Range(0, 100, 1e-2), (lr, a) => (Optimizer)new Adagrad(lr, InitialAccumulatorValue: a)),
        "AdagradWeightDecay" => Zip3(Lr, Range(0, 100, 1e-2), Decay).Select(x => (Optimizer)new Adagrad(x.Item1, x.Item2, WeightDecay: x.Item3)),
        "RmsProp" => Zip3(Lr, Range(500, 999, 1e-3), Eps).Select(x => (Optimizer)new RmsProp(x.Item1, x.Item2, x.Item3)),
        "RmsPropCentered" => Gen.Zip(Lr, Range(500, 999, 1e-3)).Select(x => (Optimizer)new RmsProp(x.Item1, x.Item2, Centered: true)),
        "RmsPropMomentum" => Zip3(Lr, Range(500, 999, 1e-3), PositiveMu).Select(x => (Optimizer)new RmsProp(x.Item1, x.Item2, Mu: x.Item3)),
        "RmsPropCenteredMomentum" => Zip3(Lr, Range(500, 999, 1e-3), PositiveMu).Select(x => (Optimizer)new RmsProp(x.Item1, x.Item2, Mu: x.Item3, Centered: true)),
        "RmsPropWeightDecay" => Zip3(Lr, PositiveMu, Decay).Select(x => (Optimizer)new RmsProp(x.Item1, Mu: x.Item2, Centered: true, WeightDecay: x.Item3)),
        "Adam" => AdamGen(false, Gen.Constant(0.0)),
        "AdamAmsgrad" => AdamGen(true, Gen.Constant(0.0)),
        "AdamWeightDecay" => AdamGen(false, Decay),
        "AdamAmsgradWeightDecay" => AdamGen(true, Decay),
        "AdamW" => AdamWGen(false, Decay),
        "AdamWAmsgrad" => AdamWGen(true, Decay),
        "AdamWNoDecay" => AdamWGen(false, Gen.Constant(0.0)),
        "AdaDelta" => Zip3(Range(1, 2000, 1e-3), Range(50, 99, 1e-2), Eps).Select(x => (Optimizer)new AdaDelta(x.Item1, x.Item2, x.Item3)),
        "AdaDeltaWeightDecay" => Zip3(Range(1, 2000, 1e-3), Range(50, 99, 1e-2), Decay).Select(x => (Optimizer)new AdaDelta(x.Item1, x.Item2, WeightDecay: x.Item3)),
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, null),
    };

    private static Gen<(TA, TB, TC)> Zip3<TA, TB, TC>(Gen<TA> a, Gen<TB> b, Gen<TC> c) =>
        from x in a
        from y in b
        from z in c
        select (x, y, z);

    private static Gen<Optimizer> AdamGen(bool amsgrad, Gen<double> wd) =>
        Zip3(Lr, Range(0, 99, 1e-2), Range(900, 9999, 1e-4)).SelectMany(
            x => Gen.Zip(Eps, wd),
            (x, y) => (Optimizer)new Adam(x.Item1 * 0.1, x.Item2, x.Item3, y.Item1, amsgrad, y.Item2));

    private static Gen<Optimizer> AdamWGen(bool amsgrad, Gen<double> wd) =>
        Zip3(Lr, Range(0, 99, 1e-2), Range(900, 9999, 1e-4)).SelectMany(
            x => Gen.Zip(Eps, wd),
            (x, y) => (Optimizer)new AdamW(x.Item1 * 0.1, x.Item2, x.Item3, y.Item1, y.Item2, amsgrad));

    /// <summary>Cases for one variant; shrinks towards fewer parameters.</summary>
    public static Arbitrary<OptimizerCase> Arbitrary(string variant)
    {
        Gen<OptimizerCase> gen =
            from o in For(variant)
            from n in Gen.Choose(1, 40)
            from seed in Gen.Choose(0, 1_000_000)
            select new OptimizerCase(o, n, seed);
        return Arb.From(gen, Shrink);
    }

    private static IEnumerable<OptimizerCase> Shrink(OptimizerCase c)
    {
        if (c.Length > 1)
        {
            yield return c with { Length = 1 };
        }

        if (c.Length > 3)
        {
            yield return c with { Length = c.Length / 2 };
        }

        if (c.Length > 2)
        {
            yield return c with { Length = c.Length - 1 };
        }

        if (c.Seed != 0)
        {
            yield return c with { Seed = 0 };
        }
    }
}
