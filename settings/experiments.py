"""``experiments:``: champion/challenger comparisons of a model's versions, and what each verdict does.

An arm is a ``version`` (``v2``, or ``{version: v2}``) or a ``variant`` (``{variant: canary}``,
matched on the events' ``variant`` field whatever their version). Each challenger is compared
with the champion on its own; with several challengers ``alpha`` is split between them. The
statistics live in :mod:`driftline.detectors.experiment`, whose own checks validate the metric,
guardrails and hyperparameters here (their problems are reported under this key path).

>>> from driftline.settings.reader import Reader
>>> r = Reader()
>>> (e,) = read_experiments(r, [{"name": "credit-canary", "model": "credit", "champion": "v1",
...     "challengers": [{"variant": "canary"}], "guardrails": [{"metric": "latency_p95_ms", "max_ratio": 1.2}],
...     "max_duration": "3d"}], "experiments")
>>> r.problems, e.champion, e.challengers[0], e.design.alpha_each, e.actions["rollback"]
([], Arm(version='v1', variant=None), Arm(version=None, variant='canary'), 0.025, 'rollback')
>>> _ = read_experiments(r, [{"name": "x", "model": "credit", "champion": "v1", "challengers": ["v2"],
...                           "metric": "latency_p95_ms"}], "experiments")
>>> print(r.problems[0])
experiments[0].metric: 'latency_p95_ms' is invalid, expected accuracy, error_rate, f1, log_loss, mae, rmse or a window metric
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftline.detectors import ExperimentDesign, Guardrail

from .errors import MISSING
from .reader import Reader, join
from .rules import ACTIONS

__all__ = ["CHALLENGER_STATES", "MODES", "Arm", "ExperimentSettings", "check_models", "read_experiments"]

MODES = ("canary", "ab", "shadow")
# The lifecycle state of a challenger while its experiment runs, per mode.
CHALLENGER_STATES = {"canary": "canary", "ab": "active", "shadow": "shadow"}
DEFAULT_ACTIONS = {"rollback": "rollback", "promote": "promote", "inconclusive": "notify"}
_KEYS = ("name", "model", "champion", "challengers", "mode", "metric", "direction", "guardrails", "min_sample",
         "max_duration", "alpha", "pairing", "tuned_for", "actions", "rollback_grace")
_GUARDRAIL_KEYS = ("metric", "max_ratio", "max_increase", "max_decrease")


@dataclass(frozen=True)
class Arm:
    """Which events belong to an arm: those of ``version``, or those whose ``variant`` is ``variant``."""

    version: str | None = None
    variant: str | None = None

    @property
    def label(self) -> str:
        return self.version if self.version is not None else f"variant:{self.variant}"

    def matches(self, version: str, variant: str | None) -> bool:
        return version == self.version if self.version is not None else variant == self.variant


@dataclass(frozen=True)
class ExperimentSettings:
    """One experiment. ``design`` is the statistics of each comparison (its ``alpha`` already split
    between the challengers); ``actions`` maps a verdict to the alert action it triggers."""

    name: str
    model: str
    champion: Arm
    challengers: tuple[Arm, ...]
    design: ExperimentDesign = field(default_factory=ExperimentDesign)
    mode: str = "canary"
    alpha: float = 0.05
    actions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    rollback_grace_ms: int = 600_000

    @property
    def challenger_state(self) -> str:
        return CHALLENGER_STATES[self.mode]


def read_experiments(r: Reader, raw: Any, path: str) -> tuple[ExperimentSettings, ...]:
    if not isinstance(raw, list):
        r.problem(path, raw, "a list of experiments")
        return ()
    out: list[ExperimentSettings] = []
    for i, item in enumerate(raw):
        where = join(path, i)
        experiment = _experiment(r, item, where)
        if experiment is None:
            continue
        if any(experiment.name == e.name for e in out):
            r.problem(join(where, "name"), experiment.name, "a name no earlier experiment uses")
        out.append(experiment)
    return tuple(out)


def _arm(r: Reader, raw: Any, path: str) -> Arm | None:
    if isinstance(raw, str) and raw:
        return Arm(version=raw)
    if isinstance(raw, Mapping) and len(raw) == 1 and set(raw) <= {"version", "variant"} \
            and isinstance(next(iter(raw.values())), str) and next(iter(raw.values())):
        return Arm(**{str(k): str(v) for k, v in raw.items()})
    r.problem(path, raw, "a version name, {version: NAME} or {variant: NAME}")
    return None


def _experiment(r: Reader, raw: Any, path: str) -> ExperimentSettings | None:
    if not isinstance(raw, Mapping):
        r.problem(path, raw, "a mapping with name, model, champion, challengers")
        return None
    before = len(r.problems)
    m = r.mapping(raw, path, keys=_KEYS)
    name = r.string(m, "name", path, required=True)
    model = r.string(m, "model", path, required=True)
    champion = _arm(r, m.get("champion", MISSING), join(path, "champion"))
    listed = m.get("challengers", MISSING)
    if not isinstance(listed, list) or not listed:
        r.problem(join(path, "challengers"), listed, "a list of at least one version or variant")
        listed = []
    challengers = [_arm(r, item, join(join(path, "challengers"), i)) for i, item in enumerate(listed)]
    arms = [a for a in (champion, *challengers) if a is not None]
    if len(set(arms)) != len(arms):
        r.problem(join(path, "challengers"), listed, "arms different from each other and from the champion")
    mode = r.string(m, "mode", path, "canary", choices=MODES)
    direction = r.string(m, "direction", path, None, choices=("higher", "lower"))
    alpha = r.number(m, "alpha", path, 0.05, low=0.0001, high=0.5)
    actions = dict(DEFAULT_ACTIONS)
    for verdict, action in r.section(m, "actions", path, keys=tuple(DEFAULT_ACTIONS)).items():
        if action not in ACTIONS:
            r.problem(join(join(path, "actions"), verdict), action, "one of: " + ", ".join(ACTIONS))
        else:
            actions[str(verdict)] = str(action)
    guardrails = tuple(g for where, item in r.items(m, "guardrails", path)
                       if (g := _guardrail(r, item, where)) is not None)
    design = r.detector(path, lambda: ExperimentDesign(
        metric=r.string(m, "metric", path, "accuracy") or "accuracy",
        higher_is_better=None if direction is None else direction == "higher",
        guardrails=guardrails,
        alpha=alpha / max(1, len(challengers)),
        min_sample=r.integer(m, "min_sample", path, 100, low=2, high=10_000_000),
        max_duration_ms=r.duration_ms(m, "max_duration", path, 7 * 86_400_000, low=1000),
        tuned_for=r.integer(m, "tuned_for", path, 1000, low=1, high=100_000_000),
        pairing=r.string(m, "pairing", path, "auto", choices=("auto", "paired", "unpaired")) or "auto"))
    grace = r.duration_ms(m, "rollback_grace", path, 600_000)
    if len(r.problems) != before or design is None or not name or not model or champion is None:
        return None
    return ExperimentSettings(name, model, champion, tuple(a for a in challengers if a is not None), design,
                              mode or "canary", alpha, actions, grace)


def _guardrail(r: Reader, raw: Any, path: str) -> Guardrail | None:
    g = r.mapping(raw, path, keys=_GUARDRAIL_KEYS)
    metric = r.string(g, "metric", path, required=True)
    limits = {k: r.number(g, k, path, None, low=0.0) for k in _GUARDRAIL_KEYS[1:]}
    if metric is None:
        return None
    return r.detector(path, lambda: Guardrail(metric, **limits))


def check_models(r: Reader, experiments: tuple[ExperimentSettings, ...], tasks: Mapping[str, str],
                 path: str = "experiments") -> tuple[ExperimentSettings, ...]:
    """Each experiment's model must be configured and its metrics must exist for the model's task."""
    kept = []
    for i, e in enumerate(experiments):
        where = join(path, i)
        task = tasks.get(e.model)
        if task is None:
            r.problem(join(where, "model"), e.model, "the name of a configured model")
            continue
        if r.detector(where, lambda e=e, task=task: e.design.check_task(task) or True) is None:
            continue
        kept.append(e)
    return tuple(kept)
