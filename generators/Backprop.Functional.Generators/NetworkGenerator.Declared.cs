using System.Collections.Generic;
using Backprop.Functional.Generators.Helpers;
using Backprop.Functional.Generators.Model;

namespace Backprop.Functional.Generators;

public sealed partial class NetworkGenerator
{
    /// <summary>What the declaration fixes besides the layers: the initialisation and its seed, the workspace's threads,
    /// and the [Optimizer] with its TrainStep/TrainOnline overloads that call its update directly.</summary>
    internal static partial class Emit
    {
        /// <summary>WorkspaceThreads, CreateWorkspace and Initialize.</summary>
        internal static void Declared(CodeWriter w, NetworkModel model)
        {
            w.Line("/// <summary>The threads of the workspaces <see cref=\"CreateWorkspace{T}(int)\"/> makes, as declared (<c>[Network(Threads = …)]</c>).</summary>");
            w.Line("public const int WorkspaceThreads = " + model.Threads + ";");
            w.Line();
            w.Line("/// <summary>Scratch for batches of up to <paramref name=\"batch\"/> rows (rent once, reuse every step), with <see cref=\"WorkspaceThreads\"/> threads.</summary>");
            w.Line("public static " + Lib + "Workspace<T> CreateWorkspace<T>(int batch)");
            w.Line("    " + Constraint + " => new(s_spec.Layers, batch) { Threads = WorkspaceThreads };");
            w.Line();
            w.Line("/// <summary>Draws θ as declared: <see cref=\"" + Lib + "Initialization." + model.Initialization + "\"/> from seed " + model.Seed
                + ", the numbers <c>Network&lt;T&gt;.Create(Spec, " + model.Seed + ", Initialization." + model.Initialization + ")</c> starts from.</summary>");
            w.Line("/// <param name=\"theta\">θ, [ParameterCount], overwritten.</param>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">theta is not ParameterCount long.</exception>");
            w.Line("public static void Initialize<T>(global::System.Span<T> theta)");
            w.Line("    " + Constraint + " => " + Lib + "Initializer.Fill<T>(s_spec, theta, " + Lib + "Initialization." + model.Initialization + ", " + model.Seed + "L);");
            w.Line();
        }

        /// <summary>The declared optimizer's members, when there is one.</summary>
        /// <param name="w">The writer.</param>
        /// <param name="model">The network.</param>
        /// <param name="recurrent">A recurrent network: its workspaces take a time (CreateWorkspace(batch, time)) and it has
        /// no one-sample fused step (the runtime's fused update knows dense layers only), so no declared TrainOnline.</param>
        internal static void DeclaredOptimizer(CodeWriter w, NetworkModel model, bool recurrent = false)
        {
            if (model.Optimizer is not { Kind: { } kind } optimizer) return;
            string type = Lib + kind;
            var arguments = new List<string>();
            foreach (var a in optimizer.Arguments) arguments.Add(a.Name + ": " + a.Literal);
            string declared = "new " + type + "(" + string.Join(", ", arguments) + ")";
            string rate = "learningRate ?? s_optimizer.LearningRate";

            w.Line("private static readonly " + type + " s_optimizer = " + declared + ";");
            w.Line();
            w.Line("/// <summary>The declared optimizer, <c>" + declared.Replace(Lib, "") + "</c>: what the " + (recurrent ? "TrainStep overload" : "TrainStep and TrainOnline overloads") + " without an");
            w.Line("/// optimizer argument apply (the same record passed to the overloads that take one gives the same bits).</summary>");
            w.Line("public static " + type + " DeclaredOptimizer => s_optimizer;");
            w.Line();
            w.Line("/// <summary>The declared optimizer's moments for θ, zeroed: <c>DeclaredOptimizer.CreateBuffers&lt;T&gt;(ParameterCount)</c>.</summary>");
            w.Line("public static " + Lib + "OptimizerBuffers<T> CreateOptimizerBuffers<T>()");
            w.Line("    " + Constraint + " => s_optimizer.CreateBuffers<T>(ParameterCount);");
            w.Line();

            w.Line("/// <summary>One training step with the declared optimizer: <see cref=\"Forward{T}\"/>, <see cref=\"Backward{T}\"/> into");
            w.Line("/// <paramref name=\"gradient\"/>, then <see cref=\"" + type + ".Update{T}(" + type + ", " + Lib + "OptimizerState, global::System.Span{T}, global::System.ReadOnlySpan{T}, "
                + Lib + "OptimizerBuffers{T}, double)\"/>");
            w.Line("/// called directly (no virtual call, no transform chain); skipped when the cost is NaN or infinite. θ, the moments and the");
            w.Line("/// state end exactly as after the overload taking <see cref=\"DeclaredOptimizer\"/> on one thread. Allocates nothing. Returns the batch's mean cost.</summary>");
            w.Line("/// <param name=\"theta\">θ, [ParameterCount], updated in place.</param>");
            w.Line("/// <param name=\"x\">Inputs, [rows × InputSize].</param>");
            w.Line("/// <param name=\"y\">Targets, [rows × OutputSize].</param>");
            w.Line("/// <param name=\"ws\">A workspace from <see cref=\"CreateWorkspace{T}(int)\"/>.</param>");
            w.Line("/// <param name=\"gradient\">Scratch for ∂C/∂θ, [ParameterCount]; holds this step's gradient afterwards.</param>");
            DeclaredParameterDocs(w);
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A length does not match, or x or y holds NaN or infinity.</exception>");
            w.Line("public static T TrainStep<T>(global::System.Span<T> theta, global::System.ReadOnlySpan<T> x, global::System.ReadOnlySpan<T> y, "
                + Lib + "Workspace<T> ws, global::System.Span<T> gradient, ref " + Lib + "OptimizerState state, " + Lib + "OptimizerBuffers<T> buffers, double? learningRate = null)");
            w.Line("    " + Constraint);
            w.Line("{");
            w.Line("    Forward<T>(theta, x, ws);");
            w.Line("    T cost = BackwardPass<T>(theta, x, y, ws, gradient, parameterGradients: true);");
            w.Line("    if (!T.IsFinite(cost)) return cost;");
            w.Line("    state = " + type + ".Update<T>(s_optimizer, state, theta, gradient, buffers, " + rate + ");");
            w.Line("    return cost;");
            w.Line("}");
            w.Line();

            if (recurrent || !optimizer.Fuses) return;   // Momentum, RmsProp: no one-sample fused update (use TrainStep with one row)
            w.Line("/// <summary>One training step on a single sample with the declared optimizer, ∂C/∂Wˡ formed inside the update and never stored:");
            w.Line(optimizer.OwnAdam
                ? "/// this network's own Adam loops (Update0…), called directly. θ, the moments and the state end exactly as after"
                : "/// the runtime's fused step (<see cref=\"" + Lib + "OuterProductUpdate\"/>) on the declared record. θ, the moments and the state end exactly as after");
            w.Line("/// the TrainStep overload without an optimizer on the same sample (up to the sign of a zero). Skipped when the cost is NaN or");
            w.Line("/// infinite. Allocates nothing. Returns the sample's cost.</summary>");
            w.Line("/// <param name=\"theta\">θ, [ParameterCount], updated in place.</param>");
            w.Line("/// <param name=\"x\">One input, [InputSize].</param>");
            w.Line("/// <param name=\"y\">Its target, [OutputSize].</param>");
            w.Line("/// <param name=\"ws\">A workspace from <see cref=\"CreateWorkspace{T}(int)\"/>.</param>");
            DeclaredParameterDocs(w);
            w.Line("/// <exception cref=\"global::System.ArgumentException\">x is not one sample, a length does not match, or x or y holds NaN or infinity.</exception>");
            w.Line("public static T TrainOnline<T>(global::System.Span<T> theta, global::System.ReadOnlySpan<T> x, global::System.ReadOnlySpan<T> y, "
                + Lib + "Workspace<T> ws, ref " + Lib + "OptimizerState state, " + Lib + "OptimizerBuffers<T> buffers, double? learningRate = null)");
            w.Line("    " + Constraint + " =>");
            w.Line(optimizer.OwnAdam
                ? "    OnlineAdam<T>(theta, x, y, ws, s_optimizer, ref state, buffers, " + rate + ");"
                : "    " + Lib + "TrainingStep.Run<T, Trainable<T>>(default, theta, x, y, ws, default, s_optimizer, ref state, buffers, " + rate + ", " + Lib + "StepMode.Fused);");
            w.Line();
        }

        private static void DeclaredParameterDocs(CodeWriter w)
        {
            w.Line("/// <param name=\"state\">The optimizer's state, replaced by the state after the update.</param>");
            w.Line("/// <param name=\"buffers\">The moments, from <see cref=\"CreateOptimizerBuffers{T}\"/>.</param>");
            w.Line("/// <param name=\"learningRate\">This step's learning rate, e.g. from a schedule (null: the declared one).</param>");
        }
    }
}
