namespace Backprop.Functional;

/// <summary>A <see cref="LayerProbe{T}"/>'s figures for one window: how many steps and samples it saw, and per layer
/// what <see cref="LayerDiagnostics"/> says.
/// <para>Threads: immutable once made (the list is not shared with the probe).</para></summary>
/// <param name="Steps">Steps observed.</param>
/// <param name="Samples">Samples (rows) observed over those steps.</param>
/// <param name="Layers">One entry per layer, input side first.</param>
public sealed record ProbeReport(long Steps, long Samples, IReadOnlyList<LayerDiagnostics> Layers);
