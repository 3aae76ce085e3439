"""Config gaps: settings the config analysis calls missing or worth a look (generic hygiene)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from phases.diagnostic.answers import (
    Recommendation,
    augment,
    grad_clip,
    label_smoothing,
    schedule,
    sig,
)
from phases.diagnostic.config_analysis import SettingRow, analyze_config
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.rules._base import Finding, Rule, Severity

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["ConfigGaps"]


class ConfigGaps(Rule):
    id = "config_gaps"
    title = "Config gaps"
    root_cause = False
    answers = ("lr_schedule", "add_augmentation", "label_smoothing", "grad_clip", "backbone_lr")

    def check(self, ev: Evidence) -> Finding | None:
        return self.of_rows(analyze_config(ev.config, ev))

    def of_rows(self, rows: Sequence[SettingRow]) -> Finding | None:
        """The finding of a config table's gaps (`diagnose` passes the reconciled table, so
        the finding and the table never disagree)."""
        missing = [row for row in rows if row.status == "missing"]
        warnings = [row for row in rows if row.status == "warning"]
        if not missing and not warnings:
            return None
        severity: Severity = "medium" if len(missing) >= 2 else "low"
        named = ", ".join(f"{row.setting} ({row.status})" for row in missing + warnings)
        return self.found(severity, {
            "missing": len(missing),
            "warnings": len(warnings),
            "settings": [row.setting for row in missing + warnings],
        }, f"{len(missing)} settings are missing and {len(warnings)} need a look: {named}")

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        # generic hygiene: never above LOW, so it never crowds out an answer to a root cause
        settings = set(finding.evidence.get("settings", []))
        h = ctx.headroom
        recs: list[Recommendation] = []
        if "schedule.name" in settings:
            recs += schedule(ctx, self.id, "LOW", ctx.gain(h, 0.0, 0.15), warmup=False)
        if "data.augment" in settings:
            recs += augment(ctx, self.id, "LOW", ctx.gain(h, 0.0, 0.15))
        if "regularization" in settings:
            recs += label_smoothing(ctx, self.id, ctx.gain(h, 0.0, 0.1), searched=True)
        if "training.grad_clip" in settings:
            recs += grad_clip(ctx, self.id, "LOW", ctx.gain(h, 0.0, 0.05))
        if "model.pretrained" in settings and ctx.config.optimizer.backbone_lr is None:
            recs.append(Recommendation(
                name="backbone_lr",
                title="Train the pretrained backbone at a tenth of the head's lr",
                priority="LOW",
                changes={"optimizer.backbone_lr": sig(ctx.lr / 10)},
                finding=self.id,
                rationale="a pretrained backbone needs small steps to keep what it learned",
                expected_gain=ctx.gain(h, 0.0, 0.2),
                risk="the backbone adapts slowly to a distant domain",
            ))
        return recs
