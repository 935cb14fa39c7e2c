namespace Backprop.Functional;

/// <summary>One epoch's probe figures, as <c>backprop train --diagnostics</c> collects them.
/// <para>Threads: immutable.</para></summary>
/// <param name="Epoch">The epoch, 1 first.</param>
/// <param name="Report">What the probe saw over that epoch's steps.</param>
public sealed record EpochDiagnostics(int Epoch, ProbeReport Report);
