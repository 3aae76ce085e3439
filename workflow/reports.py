"""The Jinja environment every report is rendered with, and writing a report with its JSON twin.

Templates are found in the project's own `templates/` folder first, then in the
shipped one. Rendering is strict: a value the template names but the context
lacks is an error naming the template and the value, never a blank in a report.
Jinja is imported on first use, so commands that render nothing start fast.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.errors import ConfigError
from workflow.io import atomic_write_json, atomic_write_text
from workflow.resources import search_path

if TYPE_CHECKING:
    import jinja2

__all__ = ["render", "write_report"]


@lru_cache(maxsize=8)
def _environment(project_dir: str | None) -> jinja2.Environment:
    import jinja2

    folders = search_path("templates", Path(project_dir) if project_dir else None)
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]),
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


def _as_path(project_dir: str | os.PathLike[str] | None) -> Path | None:
    return Path(project_dir) if project_dir is not None else None
