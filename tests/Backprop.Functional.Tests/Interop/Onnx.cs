using Microsoft.ML.OnnxRuntime;

namespace Backprop.Functional.Tests.Interop;

/// <summary>Runs ONNX files in ONNX Runtime and compares outputs with the library's.</summary>
internal static class Onnx
{
    /// <summary>Relative tolerance between ONNX Runtime's and the library's float outputs.</summary>
    public const double Relative = 1e-5;

    /// <summary>Absolute floor: outputs are O(1) (activations and probabilities); below this a difference is float noise
    /// of a sum that cancelled (float's ε is 1.2·10⁻⁷ of the terms, not of the small result).</summary>
    public const double Floor = 1e-6;

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Interop", "Fixtures", name);

    /// <summary>The graph output for <paramref name="x"/> ([batch × inputs]) in ONNX Runtime's CPU provider.</summary>
    public static float[] Run(string path, float[] x, int batch, int inputs) => Run(path, x, [batch, inputs]);

    /// <summary>The graph output for <paramref name="x"/> of shape <paramref name="shape"/> (e.g. [batch, time, inputs]).</summary>
    public static float[] Run(string path, float[] x, long[] shape)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(path, options);
        string input = session.InputMetadata.Keys.Single(), output = session.OutputMetadata.Keys.Single();
        using var value = OrtValue.CreateTensorValueFromMemory(x, shape);
        using var results = session.Run(new RunOptions(), [input], [value], [output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>aᴸ of the library's runtime network for the rows of <paramref name="x"/>.</summary>
    public static float[] Forward(Network<float> net, float[] x, int batch)
    {
        using var ws = net.CreateWorkspace(batch);
        return net.Forward(x, ws).ToArray();
    }

    /// <summary>Inputs ~ 2·N(0, 1), so the activations see both their linear parts and their saturation.</summary>
    public static float[] Inputs(int batch, int inputs, long seed)
    {
        var rng = new SeededRandom(seed);
        var x = new float[batch * inputs];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextGaussian());
        return x;
    }

    /// <summary>The largest |a − b| / (|a| + Floor/Relative), so ≤ Relative means every element is within
    /// Relative·|a| + Floor; and the index where it occurs.</summary>
    public static (double Error, int At) Worst(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        if (expected.Length != actual.Length) return (double.PositiveInfinity, -1);
        double worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs((double)expected[i] - actual[i]) / (Math.Abs((double)expected[i]) + Floor / Relative);
            if (!(e <= worst)) (worst, at) = (e, i);
        }
        return (worst, at);
    }
}
