using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional.Tests.Layers;

/// <summary>A test-only second layer kind, written against the public protocol only (no core edit): y = s ⊙ x row by
/// row, with one parameter vector s [Width] named <c>scale</c>, initialised to ones. It keeps no scratch: Backward
/// reads x and DY.</summary>
public sealed record Scale(int Width) : Layer<Scale, ScaleKernel>
{
    public override int Inputs => Width;
    public override int Outputs => Width;
}

/// <summary>y = s ⊙ x; ∂C/∂x = s ⊙ ∂C/∂y; ∂C/∂s = Σ_rows x ⊙ ∂C/∂y.</summary>
public readonly struct ScaleKernel : ILayerKernel<Scale>
{
    public static string Kind => "Scale";

    public static ParameterTensor[] Parameters(Scale layer) => [ParameterTensor.Vector("scale", layer.Width, ParameterInit.Ones)];

    public static int ScratchPerSample(Scale layer, int time) => 0;

    public static void Forward<T>(Scale layer, scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = layer.Width;
        for (int r = 0; r < p.Rows; r++)
            TensorPrimitives.Multiply(p.X.Slice(r * n, n), p.Theta, p.Y.Slice(r * n, n));
    }

    public static void Backward<T>(Scale layer, scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = layer.Width;
        if (!p.DTheta.IsEmpty)
        {
            p.DTheta.Clear();
            for (int r = 0; r < p.Rows; r++)
                TensorPrimitives.MultiplyAdd(p.X.Slice(r * n, n), p.DY.Slice(r * n, n), p.DTheta, p.DTheta);
        }
        if (!p.DX.IsEmpty)
            for (int r = 0; r < p.Rows; r++)
                TensorPrimitives.Multiply(p.DY.Slice(r * n, n), p.Theta, p.DX.Slice(r * n, n));
    }

    public static string Format(Scale layer) => layer.Width.ToString(CultureInfo.InvariantCulture);

    public static bool TryParse(string arguments, [NotNullWhen(true)] out Scale? layer, out string reason)
    {
        if (int.TryParse(arguments, NumberStyles.None, CultureInfo.InvariantCulture, out int width) && width > 0)
        {
            layer = new Scale(width);
            reason = "";
            return true;
        }
        layer = null;
        reason = $"\"{arguments}\" is not a positive width";
        return false;
    }
}
