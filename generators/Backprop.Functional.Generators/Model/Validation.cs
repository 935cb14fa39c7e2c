using System.Collections.Generic;
using Backprop.Functional.Generators.Helpers;

namespace Backprop.Functional.Generators.Model;

/// <summary>Where a problem sits: the type itself, its [Network] attribute, or the layer attribute of a layer.</summary>
internal enum Site
{
    Type,
    Network,
    Layer,
    Optimizer,
}

/// <summary>One thing wrong with a declaration: a descriptor id, where, and the message arguments.</summary>
internal sealed record Problem(string Id, Site Site, int Layer, EquatableArray<string> Arguments);

/// <summary>The rules of a valid network, as one pure function shared by the generator (which emits nothing for an
/// invalid model) and the analyzer (which reports each problem). Kind names and the loss/output rule come from the
/// library's KindNames.cs, compiled in here too.</summary>
internal static class Validation
{
    /// <summary>Every problem of <paramref name="model"/>, in source order; empty when it can be emitted.</summary>
    public static List<Problem> Check(NetworkModel model)
    {
        var problems = new List<Problem>();
        if (!model.IsStaticPartial)
            problems.Add(New("BPF002", Site.Type, -1, model.TypeName));
        if (model.Loss is null)
            problems.Add(New("BPF003", Site.Network, -1, model.LossDisplay, "loss", "ILoss"));
        if (model.Layers.Count == 0)
            problems.Add(New("BPF006", Site.Network, -1, model.TypeName));
        int firstDense = -1;
        for (int l = 0; l < model.Layers.Count; l++)
        {
            var d = model.Layers[l];
            if (!d.IsKnown)
            {
                problems.Add(New("BPF007", Site.Layer, l, d.Kind));
                continue;
            }
            if (d.Inputs <= 0)
                problems.Add(New("BPF005", Site.Layer, l, l.ToString(), "inputs", d.Inputs.ToString()));
            if (d.Outputs <= 0)
                problems.Add(New("BPF005", Site.Layer, l, l.ToString(), d.IsRecurrent ? "hidden" : "outputs", d.Outputs.ToString()));
            if (l > 0 && model.Layers[l - 1].IsKnown && d.Inputs != model.Layers[l - 1].Outputs)
                problems.Add(New("BPF001", Site.Layer, l, l.ToString(), d.Inputs.ToString(), (l - 1).ToString(), model.Layers[l - 1].Outputs.ToString()));
            if (d.Activation is null)
                problems.Add(New("BPF003", Site.Layer, l, d.ActivationDisplay, "activation", "IActivation"));
            else if (d.Kind == "Rnn" && d.Activation is not ("Tanh" or "ReLU"))
                problems.Add(New("BPF014", Site.Layer, l, l.ToString(), d.Activation));
            if (d.IsRecurrent && firstDense >= 0)
                problems.Add(New("BPF012", Site.Layer, l, l.ToString(), d.Kind, firstDense.ToString()));
            if (d.Kind == "Dense" && firstDense < 0) firstDense = l;
        }
        if (model.Layers.Count > 0 && model.Layers[model.Layers.Count - 1] is { IsRecurrent: true } lastRecurrent)
            problems.Add(New("BPF013", Site.Layer, model.Layers.Count - 1, (model.Layers.Count - 1).ToString(), lastRecurrent.Kind));
        else if (model.Loss is not null && model.Layers.Count > 0 && model.Layers[model.Layers.Count - 1].Activation is { } output
            && !KindNames.Fits(model.Loss, output))
        {
            problems.Add(New("BPF004", Site.Network, -1, model.Loss, output, KindNames.Misfit(model.Loss)));
        }
        if (model.Initialization is null)
            problems.Add(New("BPF010", Site.Network, -1, "Initialization", model.InitializationDisplay, "one of the Initialization members"));
        if (model.Threads < 1)
            problems.Add(New("BPF010", Site.Network, -1, "Threads", model.Threads.ToString(), "at least 1"));
        if (model.Optimizer is { } optimizer) CheckOptimizer(optimizer, problems);
        return problems;
    }

    /// <summary>BPF009 for an optimizer the generator cannot call, BPF011 for a property it does not take, BPF010 for a
    /// value out of the record's range (the ranges the record's constructor checks at run time).</summary>
    private static void CheckOptimizer(OptimizerModel optimizer, List<Problem> problems)
    {
        string[]? takes = null;
        foreach (var (kind, names) in OptimizerModel.Known)
            if (kind == optimizer.Kind) takes = names;
        if (takes is null)
        {
            problems.Add(New("BPF009", Site.Optimizer, -1, optimizer.Display));
            return;
        }
        foreach (var a in optimizer.Arguments)
        {
            if (System.Array.IndexOf(takes, a.Name) < 0)
            {
                problems.Add(New("BPF011", Site.Optimizer, -1, optimizer.Kind!, a.Name, string.Join(", ", takes)));
                continue;
            }
            string? range = a.Name switch
            {
                "Beta1" or "Beta2" => a.Value is >= 0 and < 1 ? null : "in [0, 1)",
                "Dampening" or "Alpha" => a.Value is >= 0 and <= 1 ? null : "in [0, 1]",
                "Amsgrad" or "Centered" => null,
                _ => a.Value >= 0 && !double.IsInfinity(a.Value) ? null : "a finite number ≥ 0",
            };
            if (range is not null) problems.Add(New("BPF010", Site.Optimizer, -1, a.Name, a.Literal, range));
        }
    }

    private static Problem New(string id, Site site, int layer, params string[] arguments) =>
        new(id, site, layer, new EquatableArray<string>(arguments));
}
