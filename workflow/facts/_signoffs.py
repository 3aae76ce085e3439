"""What each manual sign-off was given on (`signoffs.*`): the hashes of the files a person read.

A manual checklist item may name the artifacts a person reads before signing
(`model_card_reviewed` names the model card). `workflow.gates.sign_item`
records their sha256 here with the sign-off (who, when and the note are in
state.json), so the item is checked against what was read: a sign-off given
before the file existed is refused, and one whose file changed since is void.
"""

from __future__ import annotations

from pydantic import Field

from workflow.facts._base import FactsModel

__all__ = ["SignedFact", "SignoffsFacts"]


class SignedFact(FactsModel):
    """One sign-off: who gave it and when (as in state.json), and the files it covers."""

    by: str
    at: str
    artifacts: dict[str, str] = Field(default_factory=dict)  # run-dir path -> sha256


class SignoffsFacts(FactsModel):
    """Every bound sign-off, by gate and item (empty before the first)."""

    gates: dict[str, dict[str, SignedFact]] = Field(default_factory=dict)

    def of(self, gate: str, item: str) -> SignedFact | None:
        return self.gates.get(gate, {}).get(item)
