"""Reading YAML a user gave: every hostile or broken file fails as one ConfigError line.

Each test states the rule it checks; the files are the ones a fuzzer of project
folders found crashing or hanging phasegate (issue 17).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflow.errors import ConfigError
from workflow.io import read_yaml
from workflow.safe_yaml import MAX_BYTES, MAX_DEPTH, parse_yaml, read_text_file


def _refused(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        read_yaml(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def _bomb(levels: int = 12) -> str:
    text = 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n"
    return text


def test_deep_flow_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    # 3,000 levels once overflowed Python's stack; the limit is MAX_DEPTH levels
    _refused(tmp_path, "a: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than")


def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(2000)) + "  " * 2000 + "x: 1\n"
    _refused(tmp_path, text, "nested deeper than")


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    # the limit refuses only what is past it: MAX_DEPTH - 1 lists inside the top mapping
    depth = MAX_DEPTH - 1
    path = tmp_path / "ok.yaml"
    path.write_text("a: " + "[" * depth + "]" * depth + "\n")
    value = read_yaml(path)["a"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


def test_an_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    _refused(tmp_path, _bomb(), "aliases expand to more than")


def test_aliases_that_nest_too_deep_once_expanded_are_refused(tmp_path: Path) -> None:
    # each anchor alone is shallow; the chain of aliases is not
    lines = ["a0: &a0 " + "[" * 40 + "]" * 40]
    lines += [f"a{i}: &a{i} " + "[" * 40 + f"*a{i - 1}" + "]" * 40 for i in range(1, 4)]
    _refused(tmp_path, "\n".join(lines) + "\n", "once its aliases are expanded")


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, "a: &a [1, *a]\n", "refers to the value that holds it")


def test_ordinary_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {lr: 0.1, epochs: 2}\nrun:\n  <<: *b\n  epochs: 3\nalso: *b\n")
    assert read_yaml(path) == {
        "base": {"lr": 0.1, "epochs": 2},
        "run": {"lr": 0.1, "epochs": 3},
        "also": {"lr": 0.1, "epochs": 2},
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("when: 2024-01-01\n", "a date"),
        ("when: 2024-01-01T10:00:00Z\n", "a date"),
        ("c: !!set {a, b}\n", "a !!set"),
        ("c: !!binary aGVsbG8=\n", "!!binary"),
        ("c: !!omap [{a: 1}]\n", "an !!omap"),
        ("c: !!pairs [{a: 1}]\n", "!!pairs"),
        ("c: !!python/object:os.system {}\n", "not valid YAML"),
        ("c: !custom 1\n", "not valid YAML"),
        ("a: 1\n---\nb: 2\n", "not valid YAML"),
        ("? [a, b]\n: 1\n", "not valid YAML"),
    ],
)
def test_values_no_setting_takes_are_refused_with_their_line(
    tmp_path: Path, text: str, match: str
) -> None:
    _refused(tmp_path, text, match)


def test_a_quoted_date_is_text(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text('when: "2024-01-01"\n')
    assert read_yaml(path) == {"when": "2024-01-01"}


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"not a regular file \(a FIFO\)"):
        read_yaml(fifo)


def test_a_link_to_dev_zero_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "config.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match=r"not a regular file \(a character device\)"):
        read_yaml(link)


def test_a_link_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    assert read_yaml(tmp_path / "link.yaml") == {"a": 1}


def test_a_folder_a_missing_file_and_a_dangling_link_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere")
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    for path, match in (
        (tmp_path, "not a regular file \\(a folder\\)"),
        (tmp_path / "missing.yaml", "file not found"),
        (tmp_path / "dangling.yaml", "file not found"),
        (loop, "cannot be read"),
    ):
        with pytest.raises(ConfigError, match=match):
            read_yaml(path)


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with open(path, "wb") as handle:
        handle.truncate(MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ConfigError, match="over the limit"):
        read_yaml(path)


def test_bytes_that_are_not_utf8_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_text_file(path)


def test_a_nul_byte_in_the_path_is_one_line() -> None:
    with pytest.raises(ConfigError, match="not a usable path"):
        read_yaml("con\0fig.yaml")


def test_parse_yaml_names_its_source() -> None:
    with pytest.raises(ConfigError, match="^study s: refused"):
        parse_yaml(_bomb(), source="study s")


# rule: a key, value or path from the input never splits an error message in two
def test_errors_stay_one_line_whatever_the_input_holds(tmp_path: Path) -> None:
    from workflow.io import load_model
    from workflow.trainer.config import TrainConfig

    path = tmp_path / "c.yaml"
    path.write_text('"a\\nb": 1\n')
    with pytest.raises(ConfigError) as info:
        load_model(path, TrainConfig)
    assert "\n" not in str(info.value) and "a\\nb: unknown field" in str(info.value)
    path.write_text('data: {augment: [{name: "x\\ny"}]}\n')
    with pytest.raises(ConfigError) as info:
        load_model(path, TrainConfig)
    assert "\n" not in str(info.value) and "x\\ny" in str(info.value)
    with pytest.raises(ConfigError) as info:
        read_yaml(tmp_path / "new\nline.yaml")
    assert "\n" not in str(info.value) and "new\\nline.yaml" in str(info.value)
