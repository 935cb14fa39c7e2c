using Xunit;
namespace Backprop.Functional.Tests.Optimizers;

/// <summary>The documented relations between the torch and textbook forms.</summary>
public sealed class OptimizerRelationTests
{
    public static TheoryData<int> Seeds() => [1, 2, 3, 4, 5, 6, 7, 8];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void MomentumClassic_ConstantRate_EqualsTorchForm(int seed)
    {
        var rng = new Random(seed);
        int n = rng.Next(1, 30);
        double lr = 0.01 + (0.2 * rng.NextDouble());
        double mu = 0.9 * rng.NextDouble();
        double damp = 0.5 * rng.NextDouble();
        double[] a = RandomVector(rng, n);
        double[] b = (double[])a.Clone();
        var torch = new Momentum(lr, mu, damp);
        var classic = torch with { Form = MomentumForm.Classic };
        using var bufA = torch.CreateBuffers<double>(n);
        using var bufB = classic.CreateBuffers<double>(n);
        OptimizerState sa = default, sb = default;
        for (int step = 0; step < 50; step++)
        {
            double[] g = RandomVector(rng, n);
            sa = torch.Update<double>(sa, a, g, bufA, lr);
            sb = classic.Update<double>(sb, b, g, bufB, lr);
        }

        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-12 * Math.Max(1, Math.Abs(a[i])), $"element {i}: {a[i]} vs {b[i]}");
        }
    }

    [Fact]
    public void MomentumClassic_ChangingRate_DiffersFromTorchForm()
    {
        double[] a = [1.0];
        double[] b = [1.0];
        double[] g = [1.0];
        var torch = new Momentum(0.1, 0.5);
        var classic = torch with { Form = MomentumForm.Classic };
        using var bufA = torch.CreateBuffers<double>(1);
        using var bufB = classic.CreateBuffers<double>(1);
        OptimizerState sa = torch.Update<double>(default, a, g, bufA, 0.1);
        OptimizerState sb = classic.Update<double>(default, b, g, bufB, 0.1);
        torch.Update<double>(sa, a, g, bufA, 0.2);
        classic.Update<double>(sb, b, g, bufB, 0.2);

        // torch: b = 1.5, θ = 0.9 − 0.2·1.5 = 0.6; classic: v = 0.5·0.1 + 0.2 = 0.25, θ = 0.9 − 0.25 = 0.65.
        Assert.Equal(0.6, a[0], 1e-15);
        Assert.Equal(0.65, b[0], 1e-15);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void NesterovTorch_ConstantRate_IteratesTheLookAheadPoints(int seed)
    {
        // f(θ) = ½ θᵀAθ − bᵀθ; torch's iterate θ' must equal θ − μv of the textbook look-ahead form.
        var rng = new Random(seed);
        var q = Quadratic.Random(rng);
        int n = q.N;
        double lr = 0.02;
        double mu = 0.5 + (0.45 * rng.NextDouble());
        var torch = new Nesterov(lr, mu);
        var lookAhead = torch with { Form = NesterovForm.LookAhead };
        double[] thetaTorch = RandomVector(rng, n);
        double[] theta = (double[])thetaTorch.Clone();
        using var bufT = torch.CreateBuffers<double>(n);
        using var bufL = lookAhead.CreateBuffers<double>(n);
        double[] g = new double[n];
        double[] point = new double[n];
        OptimizerState st = default, sl = default;
        for (int step = 0; step < 100; step++)
        {
            q.Gradient(thetaTorch, g);
            st = torch.Update<double>(st, thetaTorch, g, bufT, lr);

            Nesterov.LookAheadPoint<double>(theta, bufL, mu, point);
            q.Gradient(point, g);
            sl = lookAhead.Update<double>(sl, theta, g, bufL, lr);

            Nesterov.LookAheadPoint<double>(theta, bufL, mu, point);
            for (int i = 0; i < n; i++)
            {
                Assert.True(
                    Math.Abs(point[i] - thetaTorch[i]) <= 1e-10 * Math.Max(1, Math.Abs(point[i])),
                    $"step {step}, element {i}: look-ahead point {point[i]} vs torch iterate {thetaTorch[i]}");
                Assert.True(Math.Abs(bufL.Moment(0)[i] - (lr * bufT.Moment(0)[i])) <= 1e-10 * Math.Max(1, Math.Abs(bufL.Moment(0)[i])));
            }
        }
    }

    internal static double[] RandomVector(Random rng, int n)
    {
        double[] x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (rng.NextDouble() * 2) - 1;
        }

        return x;
    }
}
