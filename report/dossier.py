"""A dossier: the nine sections of one model (or version) over one period, and its identity.

:func:`build_dossier` reads the store (:mod:`~driftline.report.collect`) and assembles the
sections in a fixed order; :attr:`Dossier.content_sha256` is the SHA-256 of the canonical JSON of
the content (:mod:`~driftline.report.canonical`). Nothing in the content depends on when or where
the dossier was made, so the same data and arguments give the same bytes; a generation time, when
asked for, sits beside the content in the JSON and is not hashed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from driftline.detectors import ReferenceProfile
from driftline.settings import Settings
from driftline.sinks.queries.report import model_period
from driftline.sinks.store import Store

from .behaviour import drift_section, performance_section, quality_section
from .canonical import canonical_json, iso, plain, sha256_hex
from .collect import Period, collect
from .errors import ReportError
from .governance import bias_section, incidents_section, signoff_section
from .identity import identity_section, reference_section
from .recommend import recommendations_section

__all__ = ["FORMAT", "SECTION_KEYS", "Dossier", "build_dossier", "resolve_period"]

FORMAT = "driftline.dossier/1"
SECTION_KEYS = ("identity", "reference", "performance", "drift", "quality", "bias", "incidents", "recommendations",
                "signoff")


@dataclass(frozen=True)
class Dossier:
    content: dict[str, Any]  # the JSON document's content: {"model", "version", "period", "sections": [...]}
    content_sha256: str
    generated_at: str | None = None

    def section(self, key: str) -> dict[str, Any]:
        return next(s for s in self.content["sections"] if s["key"] == key)

    def to_json(self) -> bytes:
        """The JSON file: format, content, its hash (and the generation time when asked), 1-space indented."""
        doc: dict[str, Any] = {"format": FORMAT, "content_sha256": self.content_sha256}
        if self.generated_at:
            doc["generated_at"] = self.generated_at
        doc["content"] = self.content
        return (json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False) + "\n").encode()


def resolve_period(store: Store, model: str, version: str | None, since_s: int | None,
                   until_s: int | None) -> Period:
    """The period asked for; a missing bound is the first (last) hour the store has windows of the model,
    so a dossier without ``--from/--to`` depends on the data only."""
    if since_s is None or until_s is None:
        first, last = model_period(store, model, version)
        if not last:
            raise ReportError(f"no window of {model}{'/' + version if version else ''} in the store: nothing to "
                              "report on (give --from and --to, or run the worker first)")
        since_s = first if since_s is None else since_s
        until_s = last if until_s is None else until_s
    if until_s <= since_s:
        raise ReportError(f"the period is empty: --from {iso(since_s)} is not before --to {iso(until_s)}")
    return Period(since_s, until_s)


def build_dossier(store: Store, settings: Settings, model: str, *, version: str | None = None,
                  since_s: int | None = None, until_s: int | None = None, profile: ReferenceProfile | None = None,
                  generated_at: str | None = None) -> Dossier:
    spec = settings.model(model)
    if spec is None:
        raise ReportError(f"{model!r} is not a configured model (models: {', '.join(m.name for m in settings.models)})")
    period = resolve_period(store, model, version, since_s, until_s)
    ev = collect(store, settings, spec, version, period)
    sections = {
        "identity": identity_section(ev, settings, profile),
        "reference": reference_section(ev, settings, profile),
        "performance": performance_section(ev, settings),
        "drift": drift_section(ev),
        "quality": quality_section(ev),
        "bias": bias_section(ev),
        "incidents": incidents_section(ev),
    }
    sections["recommendations"] = recommendations_section(settings, sections)
    sections["signoff"] = signoff_section()
    content = plain({"model": model, "version": version or "all",
                     "period": {"from": iso(period.since_s), "to": iso(period.until_s)},
                     "sections": [sections[key] for key in SECTION_KEYS]})
    return Dossier(content, sha256_hex(canonical_json(content)), generated_at)
