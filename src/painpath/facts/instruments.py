"""Screening and outcome instruments, scored from their items.

Each instrument declares its published structure (number of items, item range, reverse-scored
items, subscales) as class data. Where items are given, the total and subscales are computed from
them, and a total that disagrees with its items is an error. Only arithmetic lives here: what a score
*means* (cut-offs, risk groups) is decided by the rules and ``rules/scores.yaml``, with citations. The
one exception is the STarT Back risk group, which may be entered directly: it is checked against the
total and subscale by the tool's published scoring (a test keeps it equal to ``rules/scores.yaml``).
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, StrictInt, model_validator

from painpath.facts.base import FactModel, StrictFloat


class ScoredInstrument(FactModel):
    """An instrument scored as the sum of its items (``total``), optionally with subscales."""

    N_ITEMS: ClassVar[int] = 0
    ITEM_MIN: ClassVar[int] = 0
    ITEM_MAX: ClassVar[int] = 0
    REVERSED: ClassVar[frozenset[int]] = frozenset()
    SUBSCALES: ClassVar[dict[str, tuple[int, ...]]] = {}
    ALLOW_UNANSWERED: ClassVar[bool] = False

    items: list[StrictInt | None] | None = Field(
        default=None, description="Item responses in published order (1-based numbering in docs)."
    )
    total: StrictInt | None = Field(default=None, description="Total score; computed when items are given.")
    date: datetime.date | None = Field(default=None, description="When the instrument was completed.")

    @classmethod
    def total_range(cls) -> tuple[int, int]:
        """The range of a valid total score."""
        return cls.N_ITEMS * cls.ITEM_MIN, cls.N_ITEMS * cls.ITEM_MAX

    def _scored_items(self) -> list[int | None]:
        assert self.items is not None
        lo, hi = self.ITEM_MIN, self.ITEM_MAX
        return [
            None if v is None else (lo + hi - v if (i + 1) in self.REVERSED else v) for i, v in enumerate(self.items)
        ]

    @model_validator(mode="after")
    def _score(self) -> ScoredInstrument:
        lo, hi = self.total_range()
        if self.total is not None and not lo <= self.total <= hi:
            raise ValueError(f"total {self.total} is outside the instrument range {lo}-{hi}")
        if self.items is None:
            return self
        if len(self.items) != self.N_ITEMS:
            raise ValueError(f"expected {self.N_ITEMS} items, got {len(self.items)}")
        for i, v in enumerate(self.items, start=1):
            if v is None and not self.ALLOW_UNANSWERED:
                raise ValueError(f"item {i} is unanswered; give every item or only the total")
            if v is not None and not self.ITEM_MIN <= v <= self.ITEM_MAX:
                raise ValueError(f"item {i} is {v}, outside {self.ITEM_MIN}-{self.ITEM_MAX}")
        computed = self._compute_total(self._scored_items())
        if computed is not None:
            if self.total is not None and self.total != computed:
                raise ValueError(f"total {self.total} disagrees with the items, which sum to {computed}")
            self.total = computed
        self._compute_subscales(self._scored_items())
        return self

    def _compute_total(self, scored: list[int | None]) -> int | None:
        return sum(v for v in scored if v is not None)

    def _compute_subscales(self, scored: list[int | None]) -> None:
        for name, numbers in self.SUBSCALES.items():
            value = sum(scored[n - 1] or 0 for n in numbers)
            given = getattr(self, name)
            if given is not None and given != value:
                raise ValueError(f"{name} {given} disagrees with the items, which give {value}")
            setattr(self, name, value)


StartBackRisk = Literal["low", "medium", "high"]


class StartBack(ScoredInstrument):
    """Keele STarT Back Screening Tool (9 items; item 9 dichotomised: 1 = 'very much' or 'extremely')."""

    N_ITEMS = 9
    ITEM_MAX = 1
    SUBSCALES: ClassVar[dict[str, tuple[int, ...]]] = {"psychosocial": (5, 6, 7, 8, 9)}
    LOW_RISK_MAX_TOTAL: ClassVar[int] = 3
    """Keele scoring: a total at or below this is low risk (Hill 2008)."""
    HIGH_RISK_MIN_PSYCHOSOCIAL: ClassVar[int] = 4
    """Keele scoring: a psychosocial subscale at or above this is high risk; otherwise medium (Hill 2008)."""
    psychosocial: StrictInt | None = Field(default=None, ge=0, le=5, description="Items 5-9 (distress subscale).")
    risk: StartBackRisk | None = Field(
        default=None,
        description="Risk group (low, medium, high) entered directly when the items or total are not known.",
    )

    def possible_risks(self) -> frozenset[str]:
        """The risk groups that the recorded total and psychosocial subscale allow (all three if neither)."""
        groups = {"low", "medium", "high"}
        if self.total is not None:
            groups &= {"low"} if self.total <= self.LOW_RISK_MAX_TOTAL else {"medium", "high"}
        if self.psychosocial is not None:
            groups &= {"high"} if self.psychosocial >= self.HIGH_RISK_MIN_PSYCHOSOCIAL else {"low", "medium"}
        return frozenset(groups)

    @model_validator(mode="after")
    def _consistent(self) -> StartBack:
        if self.total is not None and self.psychosocial is not None:
            other = self.total - self.psychosocial
            if not 0 <= other <= 4:
                raise ValueError(
                    f"psychosocial {self.psychosocial} does not fit total {self.total}: "
                    "items 5-9 are part of the total, and items 1-4 add 0-4"
                )
        if self.risk is not None and self.risk not in self.possible_risks():
            scores = ((name, getattr(self, name)) for name in ("total", "psychosocial"))
            given = " and ".join(f"{name} {value}" for name, value in scores if value is not None)
            allowed = " or ".join(g for g in ("low", "medium", "high") if g in self.possible_risks())
            raise ValueError(f"risk '{self.risk}' disagrees with {given}, which give {allowed} (Keele scoring)")
        return self


class Phq9(ScoredInstrument):
    """Patient Health Questionnaire-9 (depression); item 9 asks about thoughts of self-harm."""

    N_ITEMS = 9
    ITEM_MAX = 3
    SUBSCALES: ClassVar[dict[str, tuple[int, ...]]] = {"item9": (9,)}
    item9: StrictInt | None = Field(
        default=None, ge=0, le=3, description="Item 9 (thoughts of being better off dead or of self-harm)."
    )


class Gad7(ScoredInstrument):
    """Generalised Anxiety Disorder-7."""

    N_ITEMS = 7
    ITEM_MAX = 3


class Tsk17(ScoredInstrument):
    """Tampa Scale of Kinesiophobia, 17 items scored 1-4, items 4, 8, 12 and 16 reverse-scored."""

    N_ITEMS = 17
    ITEM_MIN = 1
    ITEM_MAX = 4
    REVERSED = frozenset({4, 8, 12, 16})


class Pcs(ScoredInstrument):
    """Pain Catastrophizing Scale, 13 items scored 0-4, with three subscales."""

    N_ITEMS = 13
    ITEM_MAX = 4
    SUBSCALES: ClassVar[dict[str, tuple[int, ...]]] = {
        "rumination": (8, 9, 10, 11),
        "magnification": (6, 7, 13),
        "helplessness": (1, 2, 3, 4, 5, 12),
    }
    rumination: StrictInt | None = Field(default=None, ge=0, le=16)
    magnification: StrictInt | None = Field(default=None, ge=0, le=12)
    helplessness: StrictInt | None = Field(default=None, ge=0, le=24)


class Pseq(ScoredInstrument):
    """Pain Self-Efficacy Questionnaire, 10 items scored 0-6 (higher is better)."""

    N_ITEMS = 10
    ITEM_MAX = 6


class Csi(ScoredInstrument):
    """Central Sensitization Inventory part A, 25 items scored 0-4."""

    N_ITEMS = 25
    ITEM_MAX = 4


class Rmdq(ScoredInstrument):
    """Roland-Morris Disability Questionnaire, 24 yes/no items."""

    N_ITEMS = 24
    ITEM_MAX = 1


class Isi(ScoredInstrument):
    """Insomnia Severity Index, 7 items scored 0-4."""

    N_ITEMS = 7
    ITEM_MAX = 4


class Pcl5(ScoredInstrument):
    """PTSD Checklist for DSM-5, 20 items scored 0-4."""

    N_ITEMS = 20
    ITEM_MAX = 4


class StartMsk(ScoredInstrument):
    """Keele STarT MSK tool (10 items, total 0-12; item 7 scored 0-3 in the published tool)."""

    N_ITEMS = 10
    ITEM_MAX = 1

    @classmethod
    def total_range(cls) -> tuple[int, int]:
        return 0, 12

    @model_validator(mode="before")
    @classmethod
    def _no_items(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("items") is not None:
            raise ValueError("STarT MSK items are licensed and not scored here; give the total only")
        return data


class Odi(ScoredInstrument):
    """Oswestry Disability Index v2.1a: 10 sections scored 0-5, reported as a percentage.

    Unanswered sections are allowed; the percentage is the sum over 5 x answered sections.
    """

    N_ITEMS = 10
    ITEM_MAX = 5
    ALLOW_UNANSWERED = True
    percent: StrictFloat | None = Field(default=None, ge=0, le=100, description="Disability, 0-100 %.")

    @model_validator(mode="after")
    def _percent(self) -> Odi:
        if self.items is not None:
            answered = [v for v in self.items if v is not None]
            if not answered:
                raise ValueError("no ODI section is answered")
            computed = round(100.0 * sum(answered) / (self.ITEM_MAX * len(answered)), 1)
            if self.percent is not None and abs(self.percent - computed) > 0.5:
                raise ValueError(f"percent {self.percent} disagrees with the items, which give {computed}")
            self.percent = computed
        elif self.total is not None and self.percent is None:
            self.percent = float(2 * self.total)
        return self


class Bpi(FactModel):
    """Brief Pain Inventory short form: severity and interference means (0-10)."""

    severity: StrictFloat | None = Field(default=None, ge=0, le=10, description="Mean of the 4 severity items.")
    interference_items: list[StrictInt | None] | None = Field(
        default=None, description="The 7 interference items (0-10); at least 4 answered."
    )
    interference: StrictFloat | None = Field(default=None, ge=0, le=10, description="Mean interference 0-10.")
    date: datetime.date | None = None

    @model_validator(mode="after")
    def _interference(self) -> Bpi:
        if self.interference_items is None:
            return self
        if len(self.interference_items) != 7:
            raise ValueError(f"expected 7 interference items, got {len(self.interference_items)}")
        answered = [v for v in self.interference_items if v is not None]
        if any(not 0 <= v <= 10 for v in answered):
            raise ValueError("interference items must be 0-10")
        if len(answered) < 4:
            raise ValueError("BPI interference needs at least 4 of 7 items answered")
        computed = round(sum(answered) / len(answered), 2)
        if self.interference is not None and abs(self.interference - computed) > 0.05:
            raise ValueError(f"interference {self.interference} disagrees with the items ({computed})")
        self.interference = computed
        return self


class Peg(FactModel):
    """PEG three-item scale (pain, enjoyment, general activity), mean 0-10."""

    items: list[StrictInt] | None = Field(default=None, description="Three items, each 0-10.")
    score: StrictFloat | None = Field(default=None, ge=0, le=10)
    date: datetime.date | None = None

    @model_validator(mode="after")
    def _score(self) -> Peg:
        if self.items is None:
            return self
        if len(self.items) != 3 or any(not 0 <= v <= 10 for v in self.items):
            raise ValueError("PEG needs exactly 3 items, each 0-10")
        computed = round(sum(self.items) / 3, 2)
        if self.score is not None and abs(self.score - computed) > 0.05:
            raise ValueError(f"score {self.score} disagrees with the items ({computed})")
        self.score = computed
        return self


class Instruments(FactModel):
    """Screening instruments completed in this episode (latest result of each)."""

    start_back: StartBack | None = None
    start_msk: StartMsk | None = None
    phq9: Phq9 | None = None
    gad7: Gad7 | None = None
    tsk17: Tsk17 | None = None
    pcs: Pcs | None = None
    pseq: Pseq | None = None
    csi: Csi | None = None
    odi: Odi | None = None
    rmdq: Rmdq | None = None
    bpi: Bpi | None = None
    peg: Peg | None = None
    isi: Isi | None = None
    pcl5: Pcl5 | None = None
