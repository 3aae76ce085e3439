"""The Jinja environment every report is rendered with, and writing a report with its JSON twin.

Templates are found in the project's own `templates/` folder first, then in the
shipped one. Rendering is strict: a value the template names but the context
lacks is an error naming the template and the value, never a blank in a report.
Jinja is imported on first use, so commands that render nothing start fast.

A project's templates are data, not code (the trust model): they render in
Jinja's immutable sandbox, so `{{ cycler.__init__.__globals__.os.system(...) }}`
in a downloaded project's template is refused in one line instead of running a
command on `gate check`. Templates are read as regular files of at most
`MAX_TEMPLATE_BYTES`, like every file a user gives (workflow.safe_yaml).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.errors import ConfigError
from workflow.io import atomic_write_json, atomic_write_text
from workflow.resources import search_path
from workflow.safe_yaml import read_text_file

if TYPE_CHECKING:
    import jinja2

__all__ = ["MAX_TEMPLATE_BYTES", "render", "write_report"]

MAX_TEMPLATE_BYTES = 1 << 20


@lru_cache(maxsize=8)
def _environment(project_dir: str | None) -> jinja2.Environment:
    import jinja2
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Loader(jinja2.FileSystemLoader):
        """Jinja's file loader, reading through `read_text_file`: no FIFO, device or huge file."""

        def get_source(
            self, environment: jinja2.Environment, template: str
        ) -> tuple[str, str, Any]:
            _, filename, uptodate = super().get_source(environment, template)
            return read_text_file(filename, limit=MAX_TEMPLATE_BYTES), filename, uptodate

    class Sandbox(ImmutableSandboxedEnvironment):
        """No `*` or `**` that builds a value too large to hold (`"x" * 10**10`)."""

        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 1000:
                raise SecurityError(f"the power {right} is too large")
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and (
                        len(seq) * times > MAX_TEMPLATE_BYTES
                    ):
                        raise SecurityError("a repeated value would be too large")
            return super().call_binop(context, operator, left, right)

    folders = search_path("templates", Path(project_dir) if project_dir else None)
    return Sandbox(
        loader=Loader([str(f) for f in folders]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    template_name: str, context: dict[str, Any], project_dir: str | os.PathLike[str] | None = None
) -> str:
    """Render `template_name` with `context`; any missing value is a `ConfigError`."""
    import jinja2
    from jinja2.exceptions import SecurityError

    env = _environment(str(Path(project_dir).resolve()) if project_dir is not None else None)
    try:
        template = env.get_template(template_name)
    except jinja2.TemplateNotFound:
        folders = ", ".join(str(f) for f in search_path("templates", _as_path(project_dir)))
        raise ConfigError(f"template {template_name!r} not found in {folders}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename}: line {exc.lineno}: {exc.message}") from None
    try:
        return template.render(context)
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            f"template {template_name!r}: {exc.message} (the report's context lacks it)"
        ) from None
    except SecurityError as exc:
        raise ConfigError(
            f"{template.filename or template_name}: refused: {exc} (templates render in a "
            "sandbox: they may show values, never call into Python)"
        ) from None
    except RecursionError:  # a template that includes itself, or a macro that never ends
        raise ConfigError(f"template {template_name!r}: refused: it recurses without end"
                          ) from None
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        # what a template's own expressions raise (1 / 0, a filter on the wrong type): the
        # template is at fault, not phasegate; name its file and line
        where = _template_line(exc, template.filename)
        raise ConfigError(
            f"{template.filename or template_name}{where}: {type(exc).__name__}: {exc}"
        ) from None


def write_report(
    path_md: str | os.PathLike[str],
    template: str,
    context: dict[str, Any],
    *,
    project_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the rendered Markdown to `path_md` and `context` to its .json twin, both atomically.

    The Markdown is rendered before anything is written, so a template error
    leaves both files as they were.
    """
    path = Path(path_md)
    text = render(template, context, project_dir)
    atomic_write_json(path.with_suffix(".json"), context)
    atomic_write_text(path, text)
    return path


def _template_line(exc: BaseException, filename: str | None) -> str:
    """`: line N` of the innermost traceback frame in the template's file, or ''."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if filename is not None and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f": line {line}" if line is not None else ""


def _as_path(project_dir: str | os.PathLike[str] | None) -> Path | None:
    return Path(project_dir) if project_dir is not None else None
