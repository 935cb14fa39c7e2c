using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The vanishing-gradient picture as a test of its trend (issue 12). ‖∂C/∂hₜ‖ at distance d from the loss is
/// measured as ‖∂C/∂h₀‖ (<see cref="Functional.Recurrent.InitialStateGradient{T}"/>, state carried, set to zero) of a
/// sequence of length d with the loss on its last state (seq-to-one, a dense head, quadratic cost), for d = 1 … 20, the
/// same weights throughout and the inputs the last d steps of one long random sequence (4 rows, 8 inputs, 16 units).
/// <list type="bullet">
/// <item>A tanh RNN with W_hh scaled to spectral norm 0.5: ‖∂C/∂hₜ₋₁‖ ≤ ‖W_hh‖·max tanh′·‖∂C/∂hₜ‖, so it falls at
/// least as fast as 0.5ᵈ. Measured (seed 5): the least-squares slope of ln‖∂C/∂h₀‖ against d is −1.40 per step (×0.25),
/// R² = 0.9994; ‖∂C/∂h₀‖ goes from 4.05·10⁻² at d = 1 to 1.63·10⁻¹³ at d = 20, a ratio of 4.0·10⁻¹².</item>
/// <item>An LSTM with PyTorch's initialisation and forget-gate bias 1 (bias_ih's f rows [H, 2H) = 1, bias_hh's = 0):
/// the cell path multiplies by f ≈ σ(1) ≈ 0.73, not by a weight and a σ′. Measured: slope −0.24 per step (×0.79),
/// from 2.52·10⁻² to 2.10·10⁻⁴, a ratio of 8.4·10⁻³ over 20 steps: 2.1·10⁹ times the RNN's.</item>
/// </list>
/// Asserted with wide bands: for the RNN a slope ≤ −0.3, R² ≥ 0.9 (geometric: a straight line in log scale) and a
/// ratio &lt; 10⁻³; for the LSTM a ratio at least 100 times the RNN's.</summary>
public class VanishingGradientTests(ITestOutputHelper output)
{
    private const int Rows = 4, Inputs = 8, Hidden = 16, Outputs = 3, MaxDistance = 20;

    [Fact]
    public void Gradient_vanishes_geometrically_in_a_tanh_rnn_and_far_more_slowly_in_an_lstm_with_forget_bias_1()
    {
        var rnnSpec = new NetworkSpec([new Rnn(Inputs, Hidden) { InitialState = InitialState.Carried }, new Dense(Hidden, Outputs)], LossKind.Quadratic);
        using var rnn = Network<double>.Create(rnnSpec, seed: 5);
        var whh = Slot(rnn, "weight_hh_l0");
        double norm = SpectralNorm(whh, Hidden);
        for (int i = 0; i < whh.Length; i++) whh[i] *= 0.5 / norm;
        Assert.InRange(SpectralNorm(whh, Hidden), 0.499, 0.501);

        var lstmSpec = new NetworkSpec([new Lstm(Inputs, Hidden) { InitialState = InitialState.Carried }, new Dense(Hidden, Outputs)], LossKind.Quadratic);
        using var lstm = Network<double>.Create(lstmSpec, seed: 5);
        Slot(lstm, "bias_ih_l0").Slice(Hidden, Hidden).Fill(1);   // gate rows i, f, g, o: f is [H, 2H)
        Slot(lstm, "bias_hh_l0").Slice(Hidden, Hidden).Clear();

        var rng = new SeededRandom(6);
        var stream = new double[Rows * MaxDistance * Inputs];
        for (int i = 0; i < stream.Length; i++) stream[i] = 2 * rng.NextDouble() - 1;
        var y = new double[Rows * Outputs];
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextDouble() - 0.5;

        double[] rnnNorms = Norms(rnn, stream, y), lstmNorms = Norms(lstm, stream, y);
        var (rnnSlope, rnnR2) = LogFit(rnnNorms);
        var (lstmSlope, _) = LogFit(lstmNorms);
        double rnnRatio = rnnNorms[^1] / rnnNorms[0], lstmRatio = lstmNorms[^1] / lstmNorms[0];
        string figures = $"RNN: slope {rnnSlope:F3}/step, R² {rnnR2:F4}, ratio {rnnRatio:E2}; LSTM: slope {lstmSlope:F3}/step, ratio {lstmRatio:E2}, "
            + $"{lstmRatio / rnnRatio:E2} × the RNN's\n d  ‖∂C/∂h₀‖ RNN  LSTM\n"
            + string.Join("\n", Enumerable.Range(0, MaxDistance).Select(d => $"{d + 1,2}  {rnnNorms[d]:E3}  {lstmNorms[d]:E3}"));
        output.WriteLine(figures);

        Assert.True(rnnSlope <= -0.3 && rnnR2 >= 0.9, "the RNN's log-norm does not fall linearly: " + figures);
        Assert.True(rnnRatio < 1e-3, "the RNN's gradient does not vanish over 20 steps: " + figures);
        Assert.True(lstmRatio >= 100 * rnnRatio, "the LSTM's gradient vanishes about as fast as the RNN's: " + figures);
    }

    /// <summary>‖∂C/∂h₀‖ (Frobenius, over the rows) for a sequence of length d = 1 … 20: the stream's last d steps.</summary>
    private static double[] Norms(Network<double> net, double[] stream, double[] y)
    {
        var norms = new double[MaxDistance];
        using var g = net.CreateGradient();
        for (int d = 1; d <= MaxDistance; d++)
        {
            var x = new double[Rows * d * Inputs];
            for (int r = 0; r < Rows; r++)
                stream.AsSpan((r * MaxDistance + MaxDistance - d) * Inputs, d * Inputs).CopyTo(x.AsSpan(r * d * Inputs));
            using var ws = net.CreateWorkspace(Rows, 1, d);
            Functional.Recurrent.ResetState(net.Spec, ws, Rows);
            net.ValueAndGradient(x, y, ws, g.Span);
            double sum = 0;
            foreach (double v in Functional.Recurrent.InitialStateGradient(net.Spec, ws, 0, Rows)) sum += v * v;
            norms[d - 1] = Math.Sqrt(sum);
        }
        return norms;
    }

    /// <summary>Least-squares line through (d, ln norm_d): its slope and R².</summary>
    private static (double Slope, double R2) LogFit(double[] norms)
    {
        int n = norms.Length;
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) { mx += i + 1; my += Math.Log(norms[i]); }
        mx /= n;
        my /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double dx = i + 1 - mx, dy = Math.Log(norms[i]) - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return (sxy / sxx, sxy * sxy / (sxx * syy));
    }

    private static Span<double> Slot(Network<double> net, string name)
    {
        foreach (var slot in net.Layout.Slots)
            if (slot.Name.EndsWith(name, StringComparison.Ordinal)) return slot.Of(net.Parameters);
        throw new InvalidOperationException($"no parameter {name}");
    }

    /// <summary>‖W‖₂ of a square [n × n] matrix: √ of the largest eigenvalue of WᵀW, by power iteration.</summary>
    private static double SpectralNorm(ReadOnlySpan<double> w, int n)
    {
        var v = new double[n];
        var u = new double[n];
        Array.Fill(v, 1.0 / Math.Sqrt(n));
        double sigma = 0;
        for (int it = 0; it < 500; it++)
        {
            for (int i = 0; i < n; i++) { double s = 0; for (int j = 0; j < n; j++) s += w[i * n + j] * v[j]; u[i] = s; }   // u = W v
            for (int j = 0; j < n; j++) { double s = 0; for (int i = 0; i < n; i++) s += w[i * n + j] * u[i]; v[j] = s; }   // v = Wᵀ u
            double len = Math.Sqrt(v.Sum(e => e * e));
            sigma = Math.Sqrt(len);
            for (int j = 0; j < n; j++) v[j] /= len;
        }
        return sigma;
    }
}
