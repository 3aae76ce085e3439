"""The fuzz cases: every input issue 17 found crashing or hanging phasegate, and a seeded
generator of more like them, over training configs, projects, checklists, templates,
search spaces and plug-in names.

`required_cases()` are named, each with the exit code the README documents for
it (2: bad input, one line). `random_cases(seed, n)` mutates a valid file one
or two settings at a time (a value from `VALUES`, a wrong type, a YAML oddity)
or replaces the whole file (too deep, an alias bomb, a FIFO, a device, bytes
that are not UTF-8); its expected codes are every code the command documents,
narrowed to 2 where the value can mean nothing (infinity, NaN, a seed past
2**32 or below 0, a standard-library plug-in).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import tiny_config
from tests.fuzz.harness import DIR, FIFO, Case, Link

REPO = Path(__file__).resolve().parents[2]
TRAIN_CODES = frozenset({0, 1, 2})  # done, diverged, bad input
INIT_CODES = frozenset({0, 2})
GATE_CODES = frozenset({0, 1, 2})  # pass, fail, bad input
STATUS_CODES = frozenset({0, 2})
SPACE_CODES = frozenset({0, 2})
BAD = frozenset({2})


class Raw(str):
    """A value written into the YAML as it is (`.inf`, `2024-01-01`, `!!set {a, b}`)."""


INF, NINF, NAN = Raw(".inf"), Raw("-.inf"), Raw(".nan")
DATE, STAMP = Raw("2024-01-01"), Raw("2024-01-01T10:00:00Z")
SET, BINARY = Raw("!!set {a, b}"), Raw("!!binary aGVsbG8=")
PYOBJ = Raw('!!python/object/apply:os.system ["true"]')
NON_FINITE = (INF, NINF, NAN)

INTS = [-5, -1, 0, 1, 2, 3, 10, 255, 1000, 10_000, 10_001, 65_536, 65_537, 2**31, 2**32,
        2**53 + 1, 2**63, 2**64, 10**100]
FLOATS = [-1.0, -0.0, 1e-308, 0.5, 0.999, 1.0, 2.0, 1e6, 1e12, 1e308, INF, NINF, NAN]
OTHERS: list[Any] = [None, True, False, "", "x", "a\nb", "\x1b[31mred", "x" * 5000, [], {},
                     [1, 2], [2, -1], {"a": 1}, [[[[1]]]], DATE, STAMP, SET, BINARY, PYOBJ,
                     "os:system", "subprocess:run", "no_such_module:f", "tests.fuzz.plugins:ok"]
VALUES: list[Any] = INTS + FLOATS + OTHERS
STDLIB_PLUGINS = ("os:system", "subprocess:run")


def tiny_train() -> dict[str, Any]:
    """A config that trains one epoch on 100 digits in a fraction of a second."""
    return tiny_config(name="fuzz", data__max_samples=100, model__widths=[8],
                       training__epochs=1)


TRAIN_PATHS = [
    "name", "seed", "device", "data", "data.dataset", "data.root", "data.download",
    "data.image_size", "data.val_fraction", "data.test_fraction", "data.split_seed",
    "data.max_samples", "data.batch_size", "data.workers", "data.augment", "model", "model.name",
    "model.widths", "model.widths.0", "model.width", "model.depth", "model.channels",
    "model.dropout", "model.pretrained", "model.freeze", "model.head", "model.kwargs",
    "model.kwargs.x", "optimizer.name", "optimizer.lr", "optimizer.weight_decay",
    "optimizer.momentum", "optimizer.nesterov", "optimizer.betas", "optimizer.betas.0",
    "optimizer.backbone_lr", "schedule.name", "schedule.warmup_epochs", "schedule.step_epochs",
    "schedule.gamma", "schedule.min_lr_ratio", "schedule.plateau_factor",
    "schedule.plateau_patience", "schedule.max_lr_ratio", "training", "training.epochs",
    "training.grad_clip", "training.label_smoothing", "training.early_stopping",
    "training.early_stopping.patience", "training.early_stopping.min_delta",
    "training.early_stopping.monitor", "training.monitor", "training.mixed_precision",
    "training.stages", "unknown_field",
]
AUGMENTATIONS = {
    "hflip": ["p"], "random_crop": ["padding"], "rotation": ["degrees"],
    "affine": ["degrees", "translate", "scale"], "color_jitter": ["brightness", "contrast"],
    "blur": ["sigma", "p"], "noise": ["std"], "mixup": ["alpha"], "cutmix": ["alpha"],
}
NAMES = {
    "model.name": ["mlp", "cnn", "resnet18", "vgg16"],
    "optimizer.name": ["sgd", "adam", "adamw", "rmsprop"],
    "schedule.name": ["none", "step", "cosine", "linear", "plateau", "onecycle"],
}


def to_yaml(data: Any) -> str:
    """`data` as YAML, each `Raw` value written as it is."""
    raws: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(str(value))
            return f"RAWVALUE{len(raws) - 1}X"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = yaml.safe_dump(mark(data), sort_keys=False, allow_unicode=False, width=10_000)
    for i in reversed(range(len(raws))):  # RAWVALUE10X before RAWVALUE1X
        text = text.replace(f"RAWVALUE{i}X", raws[i])
    return text


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = data
    *parents, leaf = dotted.split(".")
    for part in parents:
        if isinstance(node, list):
            index = int(part)
            while len(node) <= index:
                node.append({})
            node = node[index]
            continue
        if not isinstance(node.get(part), (dict, list)):
            node[part] = [] if leaf.isdigit() else {}
        node = node[part]
    if isinstance(node, list):
        index = int(leaf)
        while len(node) <= index:
            node.append(None)
        node[index] = value
    else:
        node[leaf] = value


# -- whole files that no reader should crash or hang on -----------------------------------------


def deep_flow(levels: int = 3000) -> str:
    return "a: " + "[" * levels + "]" * levels + "\n"


def deep_block(levels: int = 2500) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "x: 1\n"


def alias_bomb(under: str = "model:\n  kwargs:\n", indent: str = "    ") -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]
    return under + "".join(f"{indent}{line}\n" for line in lines)


WHOLE_FILES: dict[str, Any] = {
    "deep_flow": deep_flow(), "deep_block": deep_block(), "alias_bomb": alias_bomb(),
    "recursive_alias": "a: &a [1, *a]\n", "fifo": FIFO, "dev_zero": Link("/dev/zero"),
    "folder": DIR, "dangling_link": Link("{d}/nowhere"), "empty": "", "not_utf8": b"a: \xff\xfe\n",
    "two_documents": "a: 1\n---\nb: 2\n", "a_list": "- 1\n- 2\n", "a_scalar": "42\n",
    "unclosed": "a: [1, 2\n", "tabs": "a:\n\t- 1\n", "date_at_top": "2024-01-01\n",
    "python_tag": "a: !!python/object/apply:os.system [true]\n", "nul": "a: \x00\n",
    "duplicate_anchor": "a: &x 1\nb: &x 2\n", "undefined_alias": "a: *nowhere\n",
}


def whole_file(kind: str) -> tuple[Any, bool]:
    """A hostile file's content and whether reading it could block (run it in a child)."""
    return WHOLE_FILES[kind], kind == "fifo"


# -- the cases issue 17 names -------------------------------------------------------------------


def _train_case(name: str, content: Any, *, expect: frozenset[int] = BAD, spawn: bool = False,
                note: str = "") -> Case:
    return Case(
        name, "train", {"config.yaml": content},
        ("train", "{d}/config.yaml", "--out", "{d}/run"), expect, spawn=spawn,
        absent=("run",), note=note,
    )


def _train_with(name: str, changes: dict[str, Any], **kwargs: Any) -> Case:
    data = tiny_train()
    for dotted, value in changes.items():
        set_path(data, dotted, value)
    return _train_case(name, to_yaml(data), **kwargs)


def _project_files(project: dict[str, Any]) -> dict[str, Any]:
    return {"proj/base.yaml": to_yaml(tiny_train()), "proj/project.yaml": to_yaml(project)}


def _init_case(name: str, project: Any, *, expect: frozenset[int] = BAD,
               project_name: str = "p", spawn: bool = False) -> Case:
    files = _project_files(tiny_project())
    files["proj/project.yaml"] = to_yaml(project) if isinstance(project, dict) else project
    return Case(name, "project", files,
                ("init", project_name, "--config", "{d}/proj/project.yaml", "--runs", "{d}/runs"),
                expect, spawn=spawn, absent=("runs/p",))


def tiny_project() -> dict[str, Any]:
    return {"name": "p", "baseline": "base.yaml", "seeds": [0, 1, 2], "fresh_seeds": [10, 11, 12]}


def _project_with(name: str, changes: dict[str, Any], **kwargs: Any) -> Case:
    data = tiny_project()
    for dotted, value in changes.items():
        set_path(data, dotted, value)
    return _init_case(name, data, **kwargs)


def _initialized(name: str, late: dict[str, Any], argv: tuple[str, ...], expect: frozenset[int],
                 kind: str) -> Case:
    return Case(
        name, kind, _project_files(tiny_project()), argv, expect,
        setup=(("init", "p", "--config", "{d}/proj/project.yaml", "--runs", "{d}/runs"),),
        late=late,
    )


def _gate(name: str, late: dict[str, Any], expect: frozenset[int] = BAD,
          kind: str = "checklist") -> Case:
    return _initialized(name, late, ("gate", "check", "diagnostics_complete", "--project", "p",
                                     "--runs", "{d}/runs"), expect, kind)


def _space_case(name: str, content: Any, expect: frozenset[int] = BAD) -> Case:
    return Case(name, "space", {"space.yaml": content, "base.yaml": to_yaml(tiny_train())},
                ("{d}/space.yaml", "{d}/base.yaml"), expect, run="space")


def _space_with(name: str, space: dict[str, Any], expect: frozenset[int] = BAD) -> Case:
    return _space_case(name, to_yaml(space), expect)


CHECKLIST = "proj/checklists/diagnostics_complete.yaml"
TEMPLATE = "proj/templates/checklist.md.j2"
INJECTION = "{{ cycler.__init__.__globals__.os.system('touch {d}/pwned') }}\n"


def required_cases() -> list[Case]:
    """Every crash, hang and meaningless value the issue lists, each with its exit code."""
    cases = [
        # YAML that once overflowed the stack or hung, on every command that reads YAML
        _train_case("train: 3,000-deep flow YAML", deep_flow()),
        _train_case("train: 2,500-deep block YAML", deep_block()),
        _train_case("train: config is a link to /dev/zero", Link("/dev/zero")),
        _train_case("train: config is a FIFO", FIFO, spawn=True),
        _train_case("train: alias bomb under model.kwargs", alias_bomb(), spawn=True),
        _train_case("train: a recursive alias", "model:\n  kwargs: &a {x: *a}\n"),
        _init_case("init: 3,000-deep project file", deep_flow()),
        _init_case("init: project file is a FIFO", FIFO, spawn=True),
        _gate("gate check: 3,000-deep checklist", {CHECKLIST: deep_flow()}),
        _gate("gate check: checklist alias bomb", {CHECKLIST: alias_bomb("x:\n", "  ")}),
        _space_case("optimize --space: 3,000-deep space", deep_flow()),
        _space_case("optimize --space: alias bomb", alias_bomb("x:\n", "  ")),
        # values a setting cannot mean
        _train_with("train: seed 2**63", {"seed": 2**63}),
        _train_with("train: seed 2**64", {"seed": 2**64}),
        _train_with("train: seed -5", {"seed": -5}),
        _train_with("train: split_seed 2**64", {"data.split_seed": 2**64}),
        _train_with("train: batch size 2**63", {"data.batch_size": 2**63}),
        _train_with("train: batch size 2**64", {"data.batch_size": 2**64}),
        _train_with("train: infinite warmup", {"schedule.name": "cosine",
                                               "schedule.warmup_epochs": INF}),
        _train_with("train: infinite blur sigma", {"data.augment": [{"name": "blur",
                                                                     "sigma": INF}]}),
        _train_with("train: lr 1e308", {"optimizer.lr": 1e308}),
        _train_with("train: lr inf (bad input, not diverged)", {"optimizer.lr": INF}),
        _train_with("train: lr nan", {"optimizer.lr": NAN}),
        _train_with("train: width 1e12", {"model.widths": [10**12]}),
        _train_with("train: width 1e12 as a float", {"model.widths": None,
                                                     "model.width": 1e12}),
        _train_with("train: image size 1e6", {"data.image_size": 10**6}),
        _train_with("train: Adam betas [2, -1]", {"optimizer.betas": [2, -1]}),
        _train_with("train: a date as the name", {"name": DATE}),
        _train_with("train: a name with a control character", {"name": "run\x1b[2J"}),
        _train_with("train: epochs 2**64", {"training.epochs": 2**64}),
        _train_with("train: max_samples 2**63", {"data.max_samples": 2**63}),
        # plug-ins that are not the user's code
        _train_with("train: dataset os:system", {"data.dataset": "os:system",
                                                 "data.root": "touch {d}/pwned"}),
        _train_with("train: model subprocess:run", {"model.name": "subprocess:run"}),
        # spaces
        _space_with("space: epochs to 2**64", {"training.epochs": {"type": "int", "low": 1,
                                                                   "high": 2**64}}),
        _space_with("space: epochs to 2**53", {"training.epochs": {"type": "int", "low": 1,
                                                                   "high": 2**53}}),
        _space_with("space: a date among the choices", {"optimizer.name": {
            "type": "categorical", "choices": ["sgd", DATE]}}),
        _space_with("space: a !!set among the choices", {"model.widths": {
            "type": "categorical", "choices": [[8], SET]}}),
        _space_with("space: infinite lr", {"optimizer.lr": {"type": "float", "low": 0.1,
                                                            "high": INF}}),
        # projects (workflow/project.py bounds: issue 15's helper)
        _project_with("init: seed 2**64", {"seeds": [0, 1, 2**64]}),
        _project_with("init: seed 2**63", {"seeds": [0, 1, 2**63]}),
        _project_with("init: seed -5", {"seeds": [0, 1, -5]}),
        _project_with("init: goal -inf", {"target": {"goal": NINF}}),
        _project_with("init: time_budget_minutes inf", {"time_budget_minutes": INF}),
        _project_with("init: iteration_limit 1e100", {"iteration_limit": 1e100}),
        _project_with("init: a name with a trailing newline", {"name": "p\n"}),
        _init_case("init: a project name argument with a trailing newline", tiny_project(),
                   project_name="p\n"),
        # code that runs without being asked
        _gate("gate check: template injection", {TEMPLATE: INJECTION}, kind="template"),
        _gate("gate check: python check os:system", {CHECKLIST: to_yaml({
            "title": "t", "items": [{"id": "x", "text": "x",
                                     "check": {"kind": "python", "function": "os:system"}}]})}),
    ]
    return cases


# -- the seeded generator -----------------------------------------------------------------------


def _expected(value: Any, path: str, codes: frozenset[int]) -> frozenset[int]:
    """Narrow `codes` to bad input where `value` at `path` can mean nothing."""
    if path.startswith("model.kwargs") or path == "unknown_field":
        return codes
    if value in NON_FINITE or (isinstance(value, Raw) and value not in (PYOBJ,)):
        return BAD
    if value in STDLIB_PLUGINS and path in ("data.dataset", "model.name", "trainer", "strategy"):
        return BAD
    if path.endswith("seed") and isinstance(value, int) and not isinstance(value, bool) and (
        value < 0 or value >= 2**32
    ):
        return BAD
    return codes


def _mutate(data: dict[str, Any], paths: list[str], rng: random.Random) -> tuple[str, Any]:
    path = rng.choice(paths)
    current = _get_path(data, path)
    if rng.random() < 0.35 and _is_number(current):
        value: Any = _near(current, rng)  # a plausible value, so more cases reach training
    else:
        value = copy.deepcopy(rng.choice(VALUES + NAMES.get(path, [])))
    set_path(data, path, value)
    return path, value


def _get_path(data: Any, dotted: str) -> Any:
    node = data
    for part in dotted.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _near(value: float, rng: random.Random) -> Any:
    """A value near `value`: doubled, halved, a tenth, ten times, one more or one less."""
    if isinstance(value, int):
        return max(0, rng.choice([value + 1, value - 1, value * 2, value // 2, value * 10]))
    return value * rng.choice([0.1, 0.5, 0.9, 1.1, 2.0, 10.0])


def _random_train(rng: random.Random, i: int) -> Case:
    roll = rng.random()
    if roll < 0.12:
        kind = rng.choice(sorted(WHOLE_FILES))
        content, spawn = whole_file(kind)
        name = f"train #{i}: whole file {kind}"
        if spawn:
            return _train_case(name, content, spawn=True)
        # an empty file is the default config: valid, trained for one epoch like the others
        return Case(name, "train", {"config.yaml": content}, ("{d}/config.yaml", "{d}/run"),
                    TRAIN_CODES if kind == "empty" else BAD, run="train", absent=("run",))
    data = tiny_train()
    if roll < 0.3:  # an augmentation with one of its strengths fuzzed
        aug = rng.choice(sorted(AUGMENTATIONS))
        field_name = rng.choice(AUGMENTATIONS[aug])
        value = copy.deepcopy(rng.choice(VALUES + [0.1, 0.3, 1.5, 5.0, 20.0, 31.9]))
        data["data"]["augment"] = [{"name": aug, field_name: value}]
        path = f"data.augment.0.{field_name}"
        expect = _expected(value, path, TRAIN_CODES)
        return _train_case(f"train #{i}: {aug}.{field_name} = {_show(value)}", to_yaml(data),
                           expect=expect)
    if rng.random() < 0.5:  # every setting written out, so each has a value to vary
        from workflow.trainer.config import TrainConfig

        data = TrainConfig.model_validate(data).model_dump(mode="json")
    path, value = _mutate(data, TRAIN_PATHS, rng)
    expect = _expected(value, path, TRAIN_CODES)
    name = f"train #{i}: {path} = {_show(value)}"
    if rng.random() < 0.15:  # a second change at once
        second, other = _mutate(data, TRAIN_PATHS, rng)
        expect = expect & _expected(other, second, TRAIN_CODES) or BAD
        name += f", {second} = {_show(other)}"
    return Case(name, "train", {"config.yaml": to_yaml(data)},
                ("{d}/config.yaml", "{d}/run"), expect, run="train", absent=("run",))


PROJECT_PATHS = [
    "name", "baseline", "target", "target.metric", "target.direction", "target.goal", "seeds",
    "seeds.0", "fresh_seeds", "fresh_seeds.0", "min_effect", "alpha", "power",
    "iteration_limit", "time_budget_minutes", "strategy", "trainer", "unknown_field",
]


def _random_project(rng: random.Random, i: int) -> Case:
    if rng.random() < 0.15:
        kind = rng.choice(sorted(WHOLE_FILES))
        content, spawn = whole_file(kind)
        return _init_case(f"init #{i}: whole file {kind}", content, spawn=spawn)
    data = tiny_project()
    path, value = _mutate(data, PROJECT_PATHS, rng)
    return _init_case(f"init #{i}: {path} = {_show(value)}", data,
                      expect=_expected(value, path, INIT_CODES))


def _shipped_checklist() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (REPO / "checklists" / "diagnostics_complete.yaml").read_text())
    return loaded


CHECK_FIELDS = ["kind", "fact", "op", "value", "other", "offset", "any_of", "all_of", "function",
                "path", "extra"]


def _random_checklist(rng: random.Random, i: int) -> Case:
    status = rng.random() < 0.3
    argv: tuple[str, ...] = (("status", "p", "--runs", "{d}/runs") if status else
                             ("gate", "check", "diagnostics_complete", "--project", "p",
                              "--runs", "{d}/runs"))
    codes = STATUS_CODES if status else GATE_CODES
    roll = rng.random()
    if roll < 0.15:
        kind = rng.choice(sorted(k for k in WHOLE_FILES if k != "fifo"))
        content: Any = WHOLE_FILES[kind]
        name = f"{argv[0]} #{i}: checklist whole file {kind}"
        # what is not a regular file is not a checklist: the shipped one of that id applies
        passed_over = ("folder", "dev_zero", "dangling_link")
        return _initialized(name, {CHECKLIST: content}, argv,
                            codes if kind in passed_over or kind == "empty" else BAD,
                            "checklist")
    if roll < 0.25:
        text = rng.choice([INJECTION, "{{ 1 / 0 }}", "{{ 'x' * 10**10 }}", "{{ nope }}",
                           "{% for x in range(10**9) %}{% endfor %}", "{{ ''.__class__ }}",
                           "{% include 'checklist.md.j2' %}", "{{ gate }}\n"])
        return _initialized(f"{argv[0]} #{i}: template {text[:30]!r}", {TEMPLATE: text}, argv,
                            codes, "template")
    data = _shipped_checklist()
    item = rng.choice(data["items"])
    field_name = rng.choice(CHECK_FIELDS)
    value = copy.deepcopy(rng.choice(VALUES + ["python", "metric", "artifact", ">=", "in"]))
    if rng.random() < 0.5:
        item["check"][field_name] = value
        where = f"{item['id']}.check.{field_name}"
    else:
        key = rng.choice(["id", "text", "when", "check", "extra"])
        item[key] = value
        where = f"{item['id']}.{key}"
    return _initialized(f"{argv[0]} #{i}: {where} = {_show(value)}", {CHECKLIST: to_yaml(data)},
                        argv, codes, "checklist")


def _shipped_space() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "configs" / "space.yaml").read_text())
    return loaded


PARAMETER_FIELDS = ["type", "low", "high", "log", "step", "grid", "grid_points", "choices",
                    "when", "extra"]


def _random_space(rng: random.Random, i: int) -> Case:
    if rng.random() < 0.15:
        kind = rng.choice(sorted(k for k in WHOLE_FILES if k != "fifo"))
        return _space_case(f"space #{i}: whole file {kind}", WHOLE_FILES[kind], BAD)
    data = _shipped_space()
    roll = rng.random()
    if roll < 0.2:  # a new setting varied, from the training config's paths
        path = rng.choice(TRAIN_PATHS)
        low, high = sorted(rng.sample([v for v in INTS if abs(v) < 2**70], 2))
        data[path] = rng.choice([
            {"type": "int", "low": low, "high": high},
            {"type": "float", "low": float(low), "high": float(high)},
            {"type": "categorical", "choices": [copy.deepcopy(rng.choice(VALUES))]},
        ])
        return _space_with(f"space #{i}: {path} = {_show(data[path])}", data, SPACE_CODES)
    name = rng.choice(sorted(data))
    field_name = rng.choice(PARAMETER_FIELDS)
    value = copy.deepcopy(rng.choice(VALUES))
    data[name][field_name] = value
    expect = BAD if value in NON_FINITE or value in (DATE, STAMP, SET, BINARY) else SPACE_CODES
    return _space_with(f"space #{i}: {name}.{field_name} = {_show(value)}", data, expect)


GENERATORS = {
    "train": _random_train,
    "project": _random_project,
    "checklist": _random_checklist,
    "space": _random_space,
}


def random_cases(seed: int, n: int) -> Iterator[Case]:
    """`n` cases drawn with `seed`, cycling through the kinds so each gets its share."""
    rng = random.Random(seed)
    kinds = sorted(GENERATORS)
    for i in range(n):
        yield GENERATORS[kinds[i % len(kinds)]](rng, i)


def _show(value: Any) -> str:
    text = str(value) if isinstance(value, Raw) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
