using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Backprop.Functional.Generators.Helpers;
using Backprop.Functional.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Backprop.Functional.Generators;

public sealed partial class NetworkGenerator
{
    /// <summary>Symbols → <see cref="NetworkModel"/>. The only code that touches Roslyn symbols; shared with
    /// <see cref="NetworkAnalyzer"/>. Never throws: unexpected input yields <see langword="null"/>.</summary>
    internal static class Parse
    {
        public const string NetworkAttribute = "Backprop.Functional.NetworkAttribute";
        public const string DenseAttribute = "Backprop.Functional.DenseAttribute";
        public const string RnnAttribute = "Backprop.Functional.RnnAttribute";
        public const string LstmAttribute = "Backprop.Functional.LstmAttribute";
        public const string GruAttribute = "Backprop.Functional.GruAttribute";
        public const string LayerAttribute = "Backprop.Functional.LayerAttribute";
        public const string OptimizerAttribute = "Backprop.Functional.OptimizerAttribute";
        private const string LibraryNamespace = "Backprop.Functional";

        /// <summary>The generator's transform: a valid model, or <see langword="null"/> (the analyzer says why).</summary>
        public static NetworkModel? Network(GeneratorAttributeSyntaxContext context, CancellationToken ct)
        {
            try
            {
                if (context.TargetSymbol is not INamedTypeSymbol type || context.Attributes.Length == 0) return null;
                var model = Read(type, context.Attributes[0], ct);
                return model is not null && Validation.Check(model).Count == 0 ? model : null;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return null;   // never crash the compiler; NetworkAnalyzer reports what it can
            }
        }

        /// <summary>The model of <paramref name="type"/> as written, valid or not; <see langword="null"/> when an
        /// attribute cannot be read (the compiler already reports that error).</summary>
        public static NetworkModel? Read(INamedTypeSymbol type, AttributeData network, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            string? loss = "Quadratic";
            string lossDisplay = "Quadratic";
            string? initialization = "PyTorch";
            string initializationDisplay = "PyTorch";
            long seed = 0;
            int threads = 1;
            foreach (var named in network.NamedArguments)
            {
                switch (named.Key)
                {
                    case "Loss":
                        if (named.Value.Kind != TypedConstantKind.Type) return null;
                        var lossType = named.Value.Value as ITypeSymbol;
                        lossDisplay = lossType?.ToDisplayString() ?? "null";
                        loss = Known(lossType, "ILoss", KindNames.Losses);
                        break;
                    case "Initialization":
                        if (named.Value.Kind != TypedConstantKind.Enum) return null;
                        initializationDisplay = Convert.ToString(named.Value.Value, CultureInfo.InvariantCulture) ?? "null";
                        initialization = MemberNamed(named.Value.Type, named.Value.Value);
                        break;
                    case "Seed":
                        if (named.Value.Value is not long s) return null;
                        seed = s;
                        break;
                    case "Threads":
                        if (named.Value.Value is not int t) return null;
                        threads = t;
                        break;
                }
            }
            OptimizerModel? optimizer = null;
            if (OptimizerOf(type) is { } declared && (optimizer = ReadOptimizer(declared)) is null) return null;

            var layers = new List<LayerModel>();
            foreach (var attribute in type.GetAttributes())
            {
                if (!IsLayer(attribute)) continue;
                var layer = attribute.AttributeClass!.ToDisplayString() switch
                {
                    DenseAttribute => ReadDense(attribute),
                    RnnAttribute => ReadRecurrent(attribute, "Rnn"),
                    LstmAttribute => ReadRecurrent(attribute, "Lstm"),
                    GruAttribute => ReadRecurrent(attribute, "Gru"),
                    _ => OtherKind(attribute),
                };
                if (layer is null) return null;
                layers.Add(layer);
            }

            var containing = new List<string>();
            bool partial = type.IsStatic && type.TypeParameters.Length == 0 && IsPartial(type, ct);
            for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
            {
                partial &= outer.TypeParameters.Length == 0 && IsPartial(outer, ct);
                containing.Insert(0, Declaration(outer));
            }

            string? ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : null;
            return new NetworkModel(ns, type.Name, new EquatableArray<string>(containing.ToArray()), partial, loss, lossDisplay,
                new EquatableArray<LayerModel>(layers.ToArray()), initialization, initializationDisplay, seed, threads, optimizer);
        }

        /// <summary>The type's [Optimizer] attribute, or <see langword="null"/>.</summary>
        public static AttributeData? OptimizerOf(INamedTypeSymbol type) =>
            type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == OptimizerAttribute);

        /// <summary>[Optimizer(typeof(X), Name = value, …)], or <see langword="null"/> if unreadable.</summary>
        private static OptimizerModel? ReadOptimizer(AttributeData attribute)
        {
            var args = attribute.ConstructorArguments;
            if (attribute.AttributeConstructor is null || args.Length != 1 || args[0].Kind != TypedConstantKind.Type) return null;
            var optimizerType = args[0].Value as ITypeSymbol;
            string? kind = optimizerType is INamedTypeSymbol { TypeKind: TypeKind.Class, ContainingType: null } named
                && named.ContainingNamespace?.ToDisplayString() == LibraryNamespace
                && OptimizerModel.Known.Any(k => k.Kind == named.Name) ? named.Name : null;
            var arguments = new List<HyperParameterModel>();
            foreach (var a in attribute.NamedArguments)
            {
                switch (a.Value.Value)
                {
                    case bool b: arguments.Add(new HyperParameterModel(a.Key, b ? "true" : "false", b ? 1 : 0)); break;
                    case double d: arguments.Add(new HyperParameterModel(a.Key, Literal(d), d)); break;
                    default: return null;
                }
            }
            return new OptimizerModel(kind, optimizerType?.ToDisplayString() ?? "null", new EquatableArray<HyperParameterModel>(arguments.ToArray()));
        }

        /// <summary>A double as C# source that reads back as the same bits ("0.001", "1E-08").</summary>
        private static string Literal(double d) =>
            double.IsNaN(d) ? "double.NaN" : double.IsInfinity(d) ? (d > 0 ? "double.PositiveInfinity" : "double.NegativeInfinity")
            : d.ToString("R", CultureInfo.InvariantCulture) is var text && (text.Contains(".") || text.Contains("E")) ? text : text + ".0";

        /// <summary>The name of the enum member of <paramref name="type"/> whose value is <paramref name="value"/>.</summary>
        private static string? MemberNamed(ITypeSymbol? type, object? value)
        {
            if (type is null || value is null) return null;
            foreach (var member in type.GetMembers())
                if (member is IFieldSymbol { HasConstantValue: true } field && Equals(field.ConstantValue, value)) return field.Name;
            return null;
        }

        /// <summary>Whether <paramref name="attribute"/> is a layer: its class derives from LayerAttribute.</summary>
        public static bool IsLayer(AttributeData attribute)
        {
            for (var c = attribute.AttributeClass?.BaseType; c is not null; c = c.BaseType)
                if (c.ToDisplayString() == LayerAttribute) return true;
            return false;
        }

        /// <summary>A layer attribute of a kind the generator does not emit: its name without "Attribute" (BPF007).</summary>
        private static LayerModel OtherKind(AttributeData attribute)
        {
            string name = attribute.AttributeClass!.Name;
            string kind = name.EndsWith("Attribute", StringComparison.Ordinal) ? name.Substring(0, name.Length - "Attribute".Length) : name;
            return new LayerModel(kind, 0, 0, null, kind);
        }

        /// <summary>One [Dense(inputs, outputs, activation)] application, or <see langword="null"/> if unreadable.</summary>
        public static LayerModel? ReadDense(AttributeData attribute)
        {
            var args = attribute.ConstructorArguments;
            if (attribute.AttributeConstructor is null || args.Length < 2) return null;
            if (args[0].Value is not int inputs || args[1].Value is not int outputs) return null;
            if (args.Length < 3 || args[2].IsNull) return new LayerModel("Dense", inputs, outputs, "Identity", "Identity");
            if (args[2].Kind != TypedConstantKind.Type) return null;
            var activation = args[2].Value as ITypeSymbol;
            return new LayerModel("Dense", inputs, outputs, Known(activation, "IActivation", KindNames.Activations),
                activation?.ToDisplayString() ?? "null");
        }

        /// <summary>One [Rnn(inputs, hidden, φ)], [Lstm(inputs, hidden)] or [Gru(inputs, hidden)] application, or
        /// <see langword="null"/> if unreadable. An Rnn's φ defaults to Tanh (the runtime's and PyTorch's default); the gated
        /// kinds record "Tanh" too, unused.</summary>
        public static LayerModel? ReadRecurrent(AttributeData attribute, string kind)
        {
            var args = attribute.ConstructorArguments;
            if (attribute.AttributeConstructor is null || args.Length < 2) return null;
            if (args[0].Value is not int inputs || args[1].Value is not int hidden) return null;
            if (args.Length < 3 || args[2].IsNull) return new LayerModel(kind, inputs, hidden, "Tanh", "Tanh");
            if (args[2].Kind != TypedConstantKind.Type) return null;
            var activation = args[2].Value as ITypeSymbol;
            return new LayerModel(kind, inputs, hidden, Known(activation, "IActivation", KindNames.Activations),
                activation?.ToDisplayString() ?? "null");
        }

        /// <summary>The struct's name when <paramref name="type"/> is one of the library's operator structs
        /// implementing <paramref name="contract"/>; otherwise <see langword="null"/>.</summary>
        private static string? Known(ITypeSymbol? type, string contract, string[] names)
        {
            if (type is not INamedTypeSymbol { TypeKind: TypeKind.Struct } named) return null;
            if (named.ContainingNamespace?.ToDisplayString() != LibraryNamespace || named.ContainingType is not null) return null;
            if (!names.Contains(named.Name)) return null;
            bool implements = named.AllInterfaces.Any(i => i.Name == contract && i.ContainingNamespace?.ToDisplayString() == LibraryNamespace);
            return implements ? named.Name : null;
        }

        private static bool IsPartial(INamedTypeSymbol type, CancellationToken ct)
        {
            if (type.DeclaringSyntaxReferences.Length == 0) return false;
            foreach (var reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(ct) is not TypeDeclarationSyntax declaration
                    || !declaration.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)))
                    return false;
            }
            return true;
        }

        private static string Declaration(INamedTypeSymbol type)
        {
            string keyword = type switch
            {
                { IsRecord: true, TypeKind: TypeKind.Struct } => "record struct",
                { IsRecord: true } => "record",
                { TypeKind: TypeKind.Struct } => "struct",
                { TypeKind: TypeKind.Interface } => "interface",
                _ => "class",
            };
            return (type.IsStatic ? "static " : "") + "partial " + keyword + " " + type.Name;
        }
    }
}
