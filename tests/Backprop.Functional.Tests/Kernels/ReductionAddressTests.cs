using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>The TensorPrimitives reductions the library's bit-pinned paths use (Softmax's row sum and max, the loss's and
/// the R-operator's dot products, the Hessian-free and K-FAC dot products, the gradient-flow norms, clipping's global
/// norm, the input check's sum of magnitudes) give the same bits wherever their operands sit. Issue 15's determinism pass
/// found TensorPrimitives' element-wise tanh grouping lanes by the destination's address (fixed by Kernels/AlignedMath);
/// these reductions are used directly, so this pins that they do not: a package update that aligned their loops to the
/// address would move results between one thread and two (per-thread workspaces sit at other addresses) and fail here.
/// Every residue of the address modulo 64 bytes, lengths 1–300, float and double, magnitudes over 12 decades.</summary>
public sealed class ReductionAddressTests
{
    private const int Lengths = 300;

    private static double[] Values(int n, Random rng)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (rng.Next(2) == 0 ? -1 : 1) * Math.Pow(10, (rng.NextDouble() * 12) - 6);
        return v;
    }

    /// <summary>Offsets (in elements) from a 64-byte boundary covering every residue modulo 64 bytes.</summary>
    private static int AlignedStart<T>(T[] pinned) where T : unmanaged
    {
        long misalignment = Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0) % 64;
        return misalignment == 0 ? 0 : (int)((64 - misalignment) / System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
    }

    private static string Check<T>(Func<ReadOnlySpan<T>, ReadOnlySpan<T>, T> reduce, string name)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(name.GetHashCode(StringComparison.Ordinal) & 0x7fff);
        int residues = 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var bad = new List<string>();
        for (int n = 1; n <= Lengths; n++)
        {
            double[] xv = Values(n, rng), yv = Values(n, rng);
            var xb = GC.AllocateArray<T>(n + (2 * residues), pinned: true);
            var yb = GC.AllocateArray<T>(n + (2 * residues), pinned: true);
            int x0 = AlignedStart(xb), y0 = AlignedStart(yb);
            T first = T.Zero;
            for (int r = 0; r < residues; r++)
            {
                Array.Clear(xb);
                Array.Clear(yb);
                // x and y move together and apart: y's residue runs the other way
                var x = xb.AsSpan(x0 + r, n);
                var y = yb.AsSpan(y0 + (residues - 1 - r), n);
                for (int i = 0; i < n; i++)
                {
                    x[i] = T.CreateChecked(xv[i]);
                    y[i] = T.CreateChecked(yv[i]);
                }
                T got = reduce(x, y);
                if (r == 0) first = got;
                else if (!got.Equals(first) && !(T.IsNaN(got) && T.IsNaN(first)))
                    bad.Add($"{name}<{typeof(T).Name}> length {n}, x at +{r * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()} B: {got} against {first}");
            }
        }
        return bad.Count == 0 ? "" : $"{bad.Count} differ, e.g. " + string.Join("; ", bad.Take(4));
    }

    public static TheoryData<string> Reductions => new() { "Sum", "Dot", "SumOfSquares", "Norm", "SumOfMagnitudes", "Max", "MaxMagnitude" };

    private static T Reduce<T>(string name, ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T> => name switch
    {
        "Sum" => TensorPrimitives.Sum(x),
        "Dot" => TensorPrimitives.Dot(x, y),
        "SumOfSquares" => TensorPrimitives.SumOfSquares(x),
        "Norm" => TensorPrimitives.Norm(x),
        "SumOfMagnitudes" => TensorPrimitives.SumOfMagnitudes(x),
        "Max" => TensorPrimitives.Max(x),
        "MaxMagnitude" => TensorPrimitives.MaxMagnitude(x),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown reduction"),
    };

    [Theory]
    [MemberData(nameof(Reductions))]
    public void Same_bits_at_every_address(string reduction)
    {
        string f = Check<float>((x, y) => Reduce(reduction, x, y), reduction);
        string d = Check<double>((x, y) => Reduce(reduction, x, y), reduction);
        Assert.True(f.Length + d.Length == 0, f + " " + d);
    }
}
