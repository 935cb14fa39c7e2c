using Xunit;
using System.Numerics;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>Every optimizer lowers a random convex quadratic ½θᵀAθ − bᵀθ over 200 steps.</summary>
public sealed class OptimizerConvergenceTests
{
    private const int Steps = 200;

    public static TheoryData<string> Optimizers()
    {
        var data = new TheoryData<string>();
        foreach (string name in Configured.Keys)
        {
            data.Add(name);
        }

        return data;
    }

    private static readonly Dictionary<string, Optimizer> Configured = new()
    {
        ["Sgd"] = new Sgd(0.1),
        ["MomentumTorch"] = new Momentum(0.05, 0.9),
        ["MomentumClassic"] = new Momentum(0.05, 0.9, Form: MomentumForm.Classic),
        ["NesterovTorch"] = new Nesterov(0.05, 0.9),
        ["NesterovLookAhead"] = new Nesterov(0.05, 0.9, NesterovForm.LookAhead),
        ["Adagrad"] = new Adagrad(0.5),
        ["AdagradLrDecay"] = new Adagrad(0.5, LrDecay: 0.01, InitialAccumulatorValue: 0.1),
        ["RmsProp"] = new RmsProp(0.01),
        ["RmsPropCenteredMomentum"] = new RmsProp(0.01, Mu: 0.5, Centered: true),
        ["Adam"] = new Adam(0.05),
        ["AdamAmsgrad"] = new Adam(0.05, Amsgrad: true),
        ["AdamW"] = new AdamW(0.05),
        ["AdaDelta"] = new AdaDelta(1.0, Epsilon: 1e-3),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Update_RandomConvexQuadraticDouble_HalvesTheGapToTheMinimum(string name) => Converges<double>(name);

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Update_RandomConvexQuadraticFloat_HalvesTheGapToTheMinimum(string name) => Converges<float>(name);

    private static void Converges<T>(string name)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Optimizer o = Configured[name];
        for (int seed = 1; seed <= 5; seed++)
        {
            var rng = new Random(seed);
            var q = Quadratic.Random(rng);
            int n = q.N;
            T[] theta = new T[n];
            for (int i = 0; i < n; i++)
            {
                theta[i] = T.CreateTruncating((rng.NextDouble() * 4) - 2);
            }

            double[] thetaD = new double[n];
            double[] gD = new double[n];
            T[] g = new T[n];
            T[] point = new T[n];
            double fStar = q.MinimumLoss();
            double gap0 = Loss(q, theta, thetaD) - fStar;
            using OptimizerBuffers<T> buf = o.CreateBuffers<T>(n);
            var state = new OptimizerState(0);
            for (int step = 0; step < Steps; step++)
            {
                ReadOnlySpan<T> at = theta;
                if (o is Nesterov { Form: NesterovForm.LookAhead } nesterov)
                {
                    Nesterov.LookAheadPoint<T>(theta, buf, T.CreateTruncating(nesterov.Mu), point);
                    at = point;
                }

                for (int i = 0; i < n; i++)
                {
                    thetaD[i] = double.CreateTruncating(at[i]);
                }

                q.Gradient(thetaD, gD);
                for (int i = 0; i < n; i++)
                {
                    g[i] = T.CreateTruncating(gD[i]);
                }

                state = o.Update<T>(state, theta, g, buf, o.LearningRate);
            }

            double gap = Loss(q, theta, thetaD) - fStar;
            Assert.True(gap < 0.5 * gap0, $"{o} seed {seed} (n = {n}): gap {gap0} → {gap}");
        }
    }

    private static double Loss<T>(Quadratic q, T[] theta, double[] scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < theta.Length; i++)
        {
            scratch[i] = double.CreateTruncating(theta[i]);
        }

        return q.Loss(scratch);
    }
}
