"""Which OpenStreetMap ways people walk on: the tag rules every reader applies (the osmnx
graph reader of :mod:`.network`, the PBF block decoder and its pyosmium reference in
:mod:`.pbf`). Plain functions of a way's tags, with no reader behind them, so that both modules
import them without importing each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: highway values nobody walks on (or that are not built).
#: Elevators (``highway=elevator`` ways) are kept: they are the accessible route for older people.
EXCLUDED_HIGHWAY = frozenset({
    "motorway", "motorway_link", "abandoned", "bus_guideway", "construction",
    "escalator", "no", "planned", "platform", "proposed", "raceway", "razed", "busway",
    "disused", "bridleway",
})
#: highway values excluded unless the way says pedestrians may use it (foot=yes/designated).
EXCLUDED_UNLESS_FOOT = frozenset({"cycleway"})
#: highway values excluded on bridges and in tunnels unless foot/sidewalk tags allow walking:
#: in Chinese cities these are the elevated expressways (高架) and road tunnels.
GRADE_SEPARATED_FAST = frozenset({"trunk", "trunk_link"})
_FOOT_OK = frozenset({"yes", "designated", "permissive", "official"})
#: ``bridge`` / ``tunnel`` values of a way at ground level (any other: a bridge or tunnel).
NOT_LEVEL = ("", "no")
_SIDEWALK_YES = frozenset({"both", "left", "right", "yes", "separate"})
#: OSM way tags kept on the edges (osmnx's defaults plus the pedestrian ones we filter on).
WAY_TAGS = ("highway", "name", "foot", "access", "service", "sidewalk", "area", "oneway",
            "bridge", "tunnel", "footway", "motorroad")


def is_walkable(tags: dict[str, Any]) -> bool:
    """Whether an OSM way with these tags is usable on foot (in both directions).

    Follows osmnx's walk filter (motorways, ``foot=no``, ``service=private``, ``area=yes``,
    unbuilt ways out), plus: cycleways only with ``foot=yes`` or a sidewalk; trunk roads on
    bridges or in tunnels (elevated expressways) and ``motorroad=yes`` roads (机动车专用道)
    only with ``foot``/``sidewalk`` tags allowing it; ``access=private/no`` and
    ``foot=private`` excluded unless ``foot`` allows it. Elevators, steps, tracks and
    ``oneway`` ways are kept (walked both ways). The README's walkability table gives the
    reason for each choice.
    """
    hw = _first(tags.get("highway"))
    if not hw:
        return False
    foot = _first(tags.get("foot"))
    if foot in ("no", "private") or hw in EXCLUDED_HIGHWAY or _first(tags.get("area")) == "yes":
        return False
    foot_ok = foot in _FOOT_OK
    if _first(tags.get("motorroad")) == "yes" and not (foot_ok or _first(tags.get("sidewalk")) in _SIDEWALK_YES):
        return False
    if hw in EXCLUDED_UNLESS_FOOT and not (foot_ok or _first(tags.get("sidewalk")) in _SIDEWALK_YES):
        return False
    if (hw in GRADE_SEPARATED_FAST and not (foot_ok or _first(tags.get("sidewalk")) in _SIDEWALK_YES)
            and is_level(tags)):
        return False
    if _first(tags.get("access")) in ("private", "no") and not foot_ok:
        return False
    if _first(tags.get("service")) == "private" and not foot_ok:
        return False
    return True


def is_level(tags: dict[str, Any]) -> bool:
    """Whether a way is a bridge or a tunnel (grade-separated from the ground under it)."""
    return _first(tags.get("bridge")) not in NOT_LEVEL or _first(tags.get("tunnel")) not in NOT_LEVEL


def _first(value: object) -> str:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


_RESIDENTS_TAGS = {"access": ("private", "residents"), "foot": ("private",), "service": ("private",)}


def residents_only(tags: dict[str, Any]) -> bool:
    """Whether a way is walkable for a compound's own residents only: :func:`is_walkable` keeps
    it out for ``access=private|residents``, ``foot=private`` or ``service=private`` alone, and
    without those tags it would be walkable. Such ways are never part of the public network;
    :mod:`.gates` uses them inside their compound, entered through its gates."""
    if is_walkable(tags):
        return False
    hits = {k for k, vals in _RESIDENTS_TAGS.items() if _first(tags.get(k)) in vals}
    return bool(hits) and is_walkable({k: v for k, v in tags.items() if k not in hits})

