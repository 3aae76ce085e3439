"""The finalization report's parts that differ: the test section by task, the model card by trainer.

`test_section` says what the one look at the test split measured, for the task:
a classifier's accuracies (Wilson intervals), McNemar and per-class metrics; a
regression's MSE, RMSE and MAE with the paired per-example test; another task's
the trainer's own metrics, the paired test said not to apply. `model_card`
describes the model as its trainer knows it: phasegate's own trainer from its
config and export (architecture, parameters, data, classes, TorchScript); a
user's from its export's manifest. Every value is text; `report.report_context`
puts them together, and `templates/finalization_report.md.j2` shows what is there.
"""

from __future__ import annotations

from typing import Any

from phases.finalization.training import Chosen, Selection
from workflow.metric import Metric
from workflow.protocol import TrainerProtocol
from workflow.trainer.config import DataConfig, TrainConfig

__all__ = ["model_card", "test_section"]

ACCURACY = Metric.named("accuracy")  # the test set's measure of a classifier: a rate
NOT_RECORDED = "not recorded"
# what the built-in export's files are, for the card's file table
BUILTIN_FILES = {
    "model.pt": "state dict, resolved config, class names, input shape, normalization; "
                "torch.load(path, weights_only=True)",
    "model_torchscript.pt": "TorchScript ({method}), normalization included; "
                            "torch.jit.load(path); checked in a fresh process",
}


def fmt_p(p: float) -> str:
    """'p < 0.0001' or 'p = 0.0312'."""
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def _verdict(p: float, alpha: float) -> str:
    if p < alpha:
        return f"a significant difference (under {alpha:g})"
    return f"no significant difference (not under {alpha:g}): the test set cannot tell them apart"


def _own_rows(metrics: dict[str, Any]) -> list[dict[str, str]]:
    return [{"model": arm, "result": ", ".join(f"{k} {v:.4g}" for k, v in sorted(values.items()))
             or "none"} for arm, values in sorted((metrics.get("trainer_metrics") or {}).items())]


def test_section(metrics: dict[str, Any], task: str, selection: Selection, base: Selection,
                 alpha: float) -> dict[str, Any]:
    """The test section's text for the task (see the module docstring)."""
    labels = {"final": f"final (seed {selection.seed})",
              "baseline": f"baseline (seed {base.seed})"}
    section: dict[str, Any] = {
        "task": task, "accuracy_rows": [], "value_rows": [], "mcnemar": None, "per_class": [],
        "trainer_metrics": _own_rows(metrics), "interval": "", "significant": None,
        "not_applicable": list(metrics.get("not_applicable") or []),
        "limits": [f"Not applicable: {line}." for line in metrics.get("not_applicable") or []],
    }
    if task == "classification":
        return {**section, **_classification(metrics, labels, alpha),
                "limits": _weakest(metrics) + section["limits"]}
    if task == "regression":
        final, baseline = metrics["final"], metrics["baseline"]
        paired = metrics["comparison"]
        low, high = paired["ci95"]
        p = float(paired["p_value"])
        rows = [{"model": labels[arm], "result": f"MSE {m['mse']:.4f} (95% {m['mse_ci95'][0]:.4f} "
                 f"to {m['mse_ci95'][1]:.4f}), RMSE {m['rmse']:.4f}, MAE {m['mae']:.4f}"}
                for arm, m in (("final", final), ("baseline", baseline))]
        return {**section, "value_rows": rows, "significant": p < alpha,
                "headline": f"MSE {final['mse']:.4f} for the final model, "
                            f"{baseline['mse']:.4f} for the baseline (test MSE)",
                "comparison": f"{paired['method']}: final minus baseline "
                              f"{paired['mean_difference']:+.4f} (95% {low:+.4f} to "
                              f"{high:+.4f}), {fmt_p(p)}; {_verdict(p, alpha)}",
                "interval": f"the final model's test MSE {final['mse']:.4f} has a 95% t "
                            f"interval of {final['mse_ci95'][0]:.4f} to "
                            f"{final['mse_ci95'][1]:.4f}",
                "card_metrics": [{"name": f"test {name}", "value": f"{final[name]:.4f}"}
                                 for name in ("mse", "rmse", "mae")]
                + [{"name": "baseline test MSE", "value": f"{baseline['mse']:.4f}"}]}
    rows = section["trainer_metrics"]
    own = {row["model"]: row["result"] for row in rows}
    return {**section,
            "value_rows": [{"model": labels[arm], "result": own.get(arm, "none")}
                           for arm in ("final", "baseline")],
            "headline": f"{own.get('final', 'none')} for the final model, "
                        f"{own.get('baseline', 'none')} for the baseline (the trainer's "
                        "metrics)",
            "comparison": "no paired test: not applicable to this task (the trainer's metrics "
                          "only)",
            "card_metrics": [{"name": "test (the trainer's metrics)",
                              "value": own.get("final", "none")}]}


def _classification(metrics: dict[str, Any], labels: dict[str, str], alpha: float
                    ) -> dict[str, Any]:
    final, base, test = metrics["final"], metrics["baseline"], metrics["mcnemar"]
    p = float(test["p_value"])
    difference = float(metrics["accuracy_difference"])
    if p < alpha:
        comparison = (f"McNemar ({test['method']}) {fmt_p(p)}, under {alpha:g}: the final "
                      f"model's test accuracy is {'better' if difference > 0 else 'worse'} by "
                      f"{abs(100 * difference):.2f} points")
    else:
        comparison = (f"McNemar ({test['method']}) {fmt_p(p)}, not under {alpha:g}: no "
                      "significant difference, the test set cannot tell the two models apart")

    def row(arm: str) -> dict[str, str]:
        m = metrics[arm]
        low, high = m["accuracy_ci95"]
        return {"model": labels[arm], "accuracy": _rate(m["accuracy"]),
                "ci": f"{_rate(low)} to {_rate(high)}",
                "balanced": _rate(m["balanced_accuracy"]), "macro_f1": f"{m['macro_f1']:.4f}"}

    per_class = [{"name": name, "support": str(f["support"]), "precision": f"{f['precision']:.3f}",
                  "recall": f"{f['recall']:.3f}", "f1": f"{f['f1']:.3f}",
                  "baseline_f1": f"{b['f1']:.3f}"}
                 for name, f, b in zip(metrics["class_names"], final["per_class"],
                                       base["per_class"], strict=True)]
    low, high = final["accuracy_ci95"]
    return {
        "accuracy_rows": [row("final"), row("baseline")],
        "mcnemar": {"b": test["b"], "c": test["c"], "method": test["method"],
                    "statistic": f"{test['statistic']:.4g}", "p_value": fmt_p(p)},
        "per_class": per_class,
        "significant": p < alpha,
        "headline": f"accuracy {_rate(final['accuracy'])} for the final model, "
                    f"{_rate(base['accuracy'])} for the baseline "
                    f"({100 * difference:+.2f} points; test accuracy)",
        "comparison": comparison,
        "interval": f"the test accuracy {_rate(final['accuracy'])} has a Wilson 95% "
                    f"interval of {_rate(low)} to {_rate(high)}",
        "card_metrics": [
            {"name": "test accuracy", "value": _rate(final["accuracy"])},
            {"name": "test balanced accuracy", "value": _rate(final["balanced_accuracy"])},
            {"name": "test macro-F1", "value": f"{final['macro_f1']:.4f}"},
            {"name": "baseline test accuracy", "value": _rate(base["accuracy"])},
        ],
    }


def _rate(value: float) -> str:
    """An accuracy as the report shows it: 96.89%."""
    return ACCURACY.format(value)


def _weakest(metrics: dict[str, Any]) -> list[str]:
    classes = metrics["final"]["per_class"]
    if not classes:
        return []
    worst = min(classes, key=lambda c: c["f1"])
    return [f"The weakest class is {worst['class']} (F1 {worst['f1']:.3f} on "
            f"{worst['support']} test examples)."]


def model_card(trainer: TrainerProtocol, chosen: Chosen, export: dict[str, Any],
               metrics: dict[str, Any], split: dict[str, Any]) -> dict[str, Any]:
    """The model card's description of the model, its data and its files."""
    manifest = export.get("manifest") or {}
    builtin = trainer.builtin_runs and "parameters" in manifest
    names = [str(c) for c in metrics.get("class_names") or []]
    files = []
    for name, file in (export.get("files") or {}).items():
        short = name.removeprefix("phase5/")
        known = BUILTIN_FILES.get(short.removeprefix("model/")) if builtin else None
        what = known.format(method=manifest.get("torchscript_method", "?")) if known else (
            f"{file['format']}, written by the export")
        files.append({"file": short, "what": what})
    files += [
        {"file": "test_predictions.csv", "what": "every test example's target and each model's "
         "prediction (the one look, sha256 recorded)"},
        {"file": "test_metrics.json", "what": "the test comparison's numbers"
         + (": accuracies, per-class metrics, confusion matrices, McNemar"
            if metrics.get("task", "classification") == "classification" else "")},
    ]
    scripted = [name.removeprefix("phase5/") for name, file in (export.get("files") or {}).items()
                if file["format"] == "torchscript"]
    card: dict[str, Any] = {
        "classes": ", ".join(names), "data": "", "files": files,
        "export": f"{export.get('method', NOT_RECORDED)}; formats "
                  f"{', '.join(export.get('formats') or []) or NOT_RECORDED}"
                  + (f"; {export['verified']}" if export.get("verified") else ""),
        "manifest": "" if builtin else ", ".join(f"{k}: {v}" for k, v in manifest.items()),
        "load": scripted[0] if scripted else "",
    }
    config = chosen.config
    if not builtin or not isinstance(config, TrainConfig):
        return {**card,
                "model": f"trained by {trainer.spec} ({trainer.task})",
                "intended_use": f"The task of `{trainer.spec}`, on inputs like its own data. It "
                                "was trained and selected on the train and validation splits "
                                "only, and measured once on the held-out test split."}
    model = config.model
    if model.name == "mlp":
        shape = f"mlp, hidden widths {model.hidden_widths()}, dropout {model.dropout:g}"
    elif model.name == "cnn":
        shape = f"cnn, channels {model.channels}, dropout {model.dropout:g}"
    elif ":" in model.name:  # a plug-in model: the generic knobs never reach it, its kwargs do
        shape = f"{model.name}({', '.join(f'{k}={v!r}' for k, v in sorted(model.kwargs.items()))})"
    else:
        shape = f"{model.name}, dropout {model.dropout:g}"
    name, dataset = _data_text(config.data, split)
    return {**card,
            "model": f"{shape}; {manifest['parameters']} parameters; input shape "
                     f"{manifest['input_shape']}; {len(names)} classes",
            "data": dataset,
            "intended_use": f"Classifying inputs like those of `{name}` (shape "
                            f"{manifest['input_shape']}) into {len(names)} classes. It was "
                            "trained and selected on the train and validation splits only, and "
                            "measured once on the held-out test split. No robustness, "
                            "calibration or fairness evaluation was done."}


def _data_text(data: DataConfig | dict[str, Any], split: dict[str, Any]) -> tuple[str, str]:
    """The dataset's name, and which data, how it was split, the sizes and fingerprint."""
    sizes = ", ".join(f"{k} {v}" for k, v in split.get("sizes", {}).items()) or NOT_RECORDED
    fingerprint = (f"test split {split.get('test_source', 'held out')}, split indices sha256 "
                   f"{str(split.get('index_sha256', NOT_RECORDED))[:16]}")
    if not isinstance(data, DataConfig):  # a plug-in dataset's own settings
        name = str(data.get("dataset", "a plug-in dataset"))
        return name, f"`{name}`: {sizes}; {fingerprint}"
    at_most = f", at most {data.max_samples} samples" if data.max_samples else ""
    return data.dataset, (f"`{data.dataset}`, split with seed {data.split_seed} (val "
                          f"{_fraction(data.val_fraction)}, test "
                          f"{_fraction(data.test_fraction)}{at_most}): {sizes}; {fingerprint}")


def _fraction(value: float | None) -> str:
    """A split's fraction, or how it was given when the dataset brings its own split."""
    return "as given by the dataset" if value is None else f"{value:g}"
