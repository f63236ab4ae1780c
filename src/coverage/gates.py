"""Compound gates: homes inside a gated residential compound (小区) reach the streets only
through its gates.

A Chinese compound is walled; a resident leaves through a gate, so a facility 50 m away across
the wall can be a long walk. Snapping homes to the nearest street ignores that. Here every point
inside a gated compound gets a node of its own, linked by straight walks inside the compound to
each usable gate; each gate is linked to the street it opens onto. The links are edges of an
augmented :class:`~eldercare_coverage.network.WalkNetwork`, so the searches, the coverage matrix
and the isochrones need no special case and the shortest route picks the best gate.

The searches run from facilities to homes, so the compound links are one-way in that direction:
facility -> its public gates and the homes of its own compound, gate -> the homes behind it. A
home is thus only ever the end of a route, never a shortcut: nobody else walks through a
compound via its homes and private gates.

Node order matters to the bounded search, which evaluates an edge's targets from its
lower-numbered reached end: a home is snapped to a zero-length link from the home to an anchor
node appended after every other node, so its target is evaluated from the home whichever gate
reached it.

Who may use a gate: residents use every gate of their compound except ``access=no`` and gates
closed at the analysis hour (``opening_hours``); visitors walking to a facility inside a compound
use only public gates (not ``access=private``/``residents``). Points in the same compound as a
facility walk to it directly. Compounds with no usable gate keep the nearest-street snapping and
are listed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .network import WalkNetwork, network_from_arrays

log = logging.getLogger(__name__)

#: Tags that make an OSM node a compound gate (or a user layer row a gate).
GATE_TAGS = {"barrier": ("gate", "entrance", "lift_gate", "swing_gate", "sliding_gate"), "entrance": None}
_PRIVATE = frozenset({"private", "residents", "customers", "permit"})
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")

#: Edge tags of the links added for gates (``highway`` of the augmented network's new edges).
GATE_LINK = "gate_link"
COMPOUND_WALK = "compound_walk"


def open_at(opening_hours: str, hour: float) -> bool:
    """Whether a gate with this OSM ``opening_hours`` text is open at ``hour`` (0-24, any day).

    Understands ``24/7``, ``off``/``closed`` and daily time ranges (``06:00-22:00``, several
    separated by ``,`` or ``;``, day prefixes ignored). Anything else counts as open: most gates
    of Chinese compounds are open in the daytime, and an unreadable value should not wall
    residents in.
    """
    text = (opening_hours or "").strip().lower()
    if not text or text == "24/7":
        return True
    if text in ("off", "closed", "no"):
        return False
    ranges = _HOURS.findall(text)
    if not ranges:
        return True
    for h0, m0, h1, m1 in ranges:
        start, end = int(h0) + int(m0) / 60.0, int(h1) + int(m1) / 60.0
        if (start <= hour < end) if start <= end else (hour >= start or hour < end):
            return True
    return False


def assign_gates(gates: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame, tolerance_m: float,
                 hour: float = 10.0) -> pd.DataFrame:
    """Gates on compound boundaries: one row per (gate, compound) within ``tolerance_m`` (m).

    ``gates`` (points, metric CRS) may carry ``gate_id``, ``access`` and ``opening_hours``;
    ``compounds`` (polygons, same CRS) must carry ``community_id``. A gate on a shared wall
    serves both compounds. Returns columns gate, compound (row positions), gate_id,
    community_id, residents (usable by residents), public (usable by visitors), x, y.
    """
    cols = ["gate", "compound", "gate_id", "community_id", "residents", "public", "x", "y"]
    if gates is None or not len(gates) or not len(compounds):
        return pd.DataFrame(columns=cols)
    g = gates.geometry.to_numpy()
    rings = shapely.boundary(compounds.geometry.to_numpy())
    tree = shapely.STRtree(rings)
    gi, ci = tree.query(g, predicate="dwithin", distance=tolerance_m)
    access = _text(gates, "access")[gi]
    hours = _text(gates, "opening_hours")[gi]
    is_open = np.array([open_at(h, hour) for h in hours], dtype=bool)
    residents = is_open & (access != "no")
    public = residents & ~np.isin(access, list(_PRIVATE))
    ids = _text(gates, "gate_id")
    ids = np.where(ids == "", [f"gate-{i}" for i in range(len(gates))], ids)
    return pd.DataFrame({
        "gate": gi, "compound": ci, "gate_id": ids[gi],
        "community_id": compounds["community_id"].astype(str).to_numpy()[ci],
        "residents": residents, "public": public,
        "x": shapely.get_x(g[gi]), "y": shapely.get_y(g[gi]),
    })


def _text(gdf: gpd.GeoDataFrame, col: str) -> np.ndarray:
    if col not in gdf:
        return np.full(len(gdf), "", dtype=object)
    return gdf[col].fillna("").astype(str).str.strip().str.lower().to_numpy(dtype=object) \
        if col != "gate_id" else gdf[col].fillna("").astype(str).to_numpy(dtype=object)


@dataclass
class GatedAccess:
    """The augmented network and, per point set, where each point joins it.

    ``joins[k]`` holds, for point set k, the node index of each point (-1: not in a gated
    compound, snap it to the nearest street as usual). ``gates`` lists the gates used (with the
    street they open onto); ``ungated`` the compounds with points but no usable gate.
    """

    network: WalkNetwork
    joins: list[np.ndarray]
    gates: pd.DataFrame
    ungated: pd.DataFrame


@dataclass
class _Added:
    """The nodes and edges :func:`gated_network` appends to a network, in order: new node
    indices continue from the network's (so snaps on it stay valid) and every edge carries its
    geometry, its kind (``highway``) and whether it is one-way (searchable u → v only)."""

    n0: int
    xs: list = field(default_factory=list)
    ys: list = field(default_factory=list)
    eu: list = field(default_factory=list)
    ev: list = field(default_factory=list)
    geom: list = field(default_factory=list)
    kind: list = field(default_factory=list)
    oneway: list = field(default_factory=list)
    n: int = 0

    def nodes(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Append nodes at (x, y) (m); returns their indices."""
        self.xs.append(np.asarray(x, dtype=np.float64))
        self.ys.append(np.asarray(y, dtype=np.float64))
        idx = self.n0 + self.n + np.arange(len(x), dtype=np.int64)
        self.n += len(x)
        return idx

    def xy(self, nodes: np.ndarray) -> np.ndarray:
        """Coordinates (k × 2) of appended nodes."""
        return np.stack([np.concatenate(self.xs)[nodes - self.n0], np.concatenate(self.ys)[nodes - self.n0]], 1)

    def edges(self, u: np.ndarray, v: np.ndarray, geom: np.ndarray, kind: str, oneway: bool) -> None:
        self.eu.append(np.asarray(u, dtype=np.int64))
        self.ev.append(np.asarray(v, dtype=np.int64))
        self.geom.append(geom)
        self.kind.append(np.full(len(u), kind, dtype=object))
        self.oneway.append(np.full(len(u), oneway, dtype=bool))

    def straight(self, u: np.ndarray, v: np.ndarray, kind: str = COMPOUND_WALK, oneway: bool = True) -> None:
        """Straight one-way walks between appended nodes u → v."""
        self.edges(u, v, shapely.linestrings(np.stack([self.xy(u), self.xy(v)], 1)), kind, oneway)

    def network(self, net: WalkNetwork) -> WalkNetwork:
        """``net`` with the appended nodes and edges (original indices kept)."""
        m0 = net.n_edges
        attrs = pd.concat([net.edge_attrs, pd.DataFrame({"highway": np.concatenate(self.kind) if self.kind else []})],
                          ignore_index=True)
        return network_from_arrays(
            np.concatenate([net.x, *self.xs]), np.concatenate([net.y, *self.ys]),
            np.concatenate([net.edge_u.astype(np.int64), *self.eu]), np.concatenate([net.edge_v.astype(np.int64), *self.ev]),
            net.crs, np.concatenate([net.edge_geometry, *self.geom]) if self.geom else net.edge_geometry,
            np.concatenate([net.node_id, -1 - np.arange(self.n, dtype=np.int64)]), attrs, source=net.source,
            oneway=np.concatenate([np.zeros(m0, dtype=bool), *self.oneway]))


def gated_network(net: WalkNetwork, compounds: gpd.GeoDataFrame, gates: pd.DataFrame,
                  point_sets: list[np.ndarray], visitor: list[bool], gate_snap: "object",
                  ) -> GatedAccess:
    """Add gate links and compound walks to ``net`` for the points of ``point_sets``.

    ``point_sets`` are arrays of shapely points (metric CRS); ``visitor[k]`` says whether set k
    is reached by visitors (facilities, candidates: public gates only) or is residents' homes.
    ``gate_snap`` is the :class:`~eldercare_coverage.access.Snapped` of the gate rows of
    ``gates`` on ``net`` (unsnapped gates are not used). Original node and edge indices are kept:
    new nodes and edges are appended, so snaps on ``net`` stay valid on the result.
    """
    polys = compounds.geometry.to_numpy()
    ok = gate_snap.edge >= 0
    gates = gates.assign(snapped=ok).reset_index(drop=True)
    add = _Added(net.n_nodes)
    use, gate_node, street = _link_gates(net, gates, gate_snap, add)
    joins: list[np.ndarray] = []
    ungated = []
    in_compound = []
    for pts, is_visitor in zip(point_sets, visitor):
        join, ung, inside = _join_points(pts, is_visitor, polys, gates, gate_node, add)
        joins.append(join)
        in_compound.append(inside)
        if ung is not None:
            ungated.append(ung)
    # homes walk straight to a facility or candidate inside their own compound
    homes = [s for s, v in zip(in_compound, visitor) if not v]
    for (si, sc, snodes), is_visitor in zip(in_compound, visitor):
        if not is_visitor or not len(si):
            continue
        for hi, hc, hnodes in homes:
            pair = pd.merge(pd.DataFrame({"c": sc, "s": snodes}), pd.DataFrame({"c": hc, "h": hnodes}), on="c")
            if len(pair):
                add.straight(pair["s"].to_numpy(), pair["h"].to_numpy())
    # Each home's search target sits on a zero-length link home -> anchor, which the bounded
    # search evaluates from the home itself: a target on a gate -> home link would be seen only
    # when that particular gate is within the limit, missing homes reached through another gate.
    for k, ((hi, hc, hnodes), is_visitor) in enumerate(zip(in_compound, visitor)):
        if is_visitor or not len(hi):
            continue
        xy = add.xy(hnodes)
        anchors = add.nodes(xy[:, 0], xy[:, 1])
        add.straight(hnodes, anchors)
        joins[k][hi] = anchors
    out = add.network(net)
    used = gates.loc[use].assign(node=gate_node[use], street_edge=street, street_name=_street_names(net, street))
    ung = pd.concat(ungated, ignore_index=True) if ungated else pd.DataFrame(columns=["compound", "visitor"])
    log.info("compound gates: %d gates link %d points in %d compounds; %d compounds without a usable gate",
             len(use), sum(len(s[0]) for s in in_compound), len(set(np.concatenate([s[1] for s in in_compound])))
             if in_compound else 0, ung["compound"].nunique())
    return GatedAccess(out, joins, used.reset_index(drop=True), ung)


def _link_gates(net: WalkNetwork, gates: pd.DataFrame, gate_snap: "object",
                add: _Added) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A node for each snapped gate usable by residents, linked to both ends of the street edge
    it opens onto. Returns (gate rows used, node of every gate row (-1: none), their streets)."""
    use = np.flatnonzero(gates["snapped"].to_numpy(bool) & gates["residents"].to_numpy(bool))
    gate_node = np.full(len(gates), -1, dtype=np.int64)
    gx, gy = gates["x"].to_numpy()[use], gates["y"].to_numpy()[use]
    gate_node[use] = add.nodes(gx, gy)
    e = gate_snap.edge[use]
    pos = gate_snap.pos[use]
    street = net.edge_geometry[e]
    foot = shapely.points(gate_snap.x[use], gate_snap.y[use])
    gate_pt = shapely.points(gx, gy)
    # The link geometry runs gate -> foot on the street -> end node, so its length (the edge
    # length) is the gate's access walk plus the street piece.
    for end, part, backwards in ((net.edge_u[e], _substrings(street, np.zeros(len(use)), pos), True),
                                 (net.edge_v[e], _substrings(street, pos, net.edge_length[e]), False)):
        add.edges(gate_node[use], end, _join(gate_pt, foot, part, reverse_part=backwards), GATE_LINK, False)
    return use, gate_node, e


def _join_points(pts: np.ndarray, is_visitor: bool, polys: np.ndarray, gates: pd.DataFrame,
                 gate_node: np.ndarray, add: _Added):
    """Nodes for the points inside compounds with a usable gate, each walking straight to every
    such gate (one-way, in the searches' direction: facility -> gate, gate -> home). Returns the
    join array (node per point, -1 outside), the compounds without a usable gate (or None) and
    (point indices, compounds, nodes) of the joined points."""
    join = np.full(len(pts), -1, dtype=np.int64)
    present = ~(shapely.is_missing(pts) | shapely.is_empty(pts)) if len(pts) else np.zeros(0, bool)
    pi, ci = shapely.STRtree(polys).query(pts, predicate="within") if len(pts) else (np.zeros(0, int),) * 2
    keep = present[pi]
    pi, ci = pi[keep], ci[keep]
    # a point in nested/overlapping compounds joins the first (smallest index) only
    first = ~pd.Series(pi).duplicated().to_numpy()
    pi, ci = pi[first], ci[first]
    col = "public" if is_visitor else "residents"
    usable = gates[gates[col].to_numpy(bool) & gates["snapped"].to_numpy(bool)]
    by_comp = usable.groupby("compound").indices
    has = np.array([c in by_comp for c in ci], dtype=bool)
    ung = pd.DataFrame({"compound": ci[~has], "visitor": is_visitor}) if (~has).any() else None
    pi, ci = pi[has], ci[has]
    nodes = add.nodes(shapely.get_x(pts[pi]), shapely.get_y(pts[pi]))
    join[pi] = nodes
    rows = [(k, gi) for k, c in enumerate(ci) for gi in usable.index[by_comp[c]]]
    if rows:
        k, gi = np.array(rows).T
        if is_visitor:
            add.straight(nodes[k], gate_node[gi])
        else:
            add.straight(gate_node[gi], nodes[k])
    return join, ung, (pi, ci, nodes)


def _street_names(net: WalkNetwork, e: np.ndarray) -> np.ndarray:
    if "name" not in net.edge_attrs:
        return np.full(len(e), "", dtype=object)
    return net.edge_attrs["name"].fillna("").astype(str).to_numpy()[e]


def _substrings(lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Pieces of ``lines`` between distances ``start`` and ``end`` (m) along them."""
    from shapely.ops import substring

    return np.array([substring(g, float(a), float(b)) for g, a, b in zip(lines, start, end)], dtype=object)


def _join(gate: np.ndarray, foot: np.ndarray, part: np.ndarray, reverse_part: bool) -> np.ndarray:
    """Line gate -> foot of the gate on the street -> along the street piece to its end node."""
    out = np.empty(len(gate), dtype=object)
    for i, (g, f, p) in enumerate(zip(gate, foot, part)):
        coords = np.asarray(shapely.get_coordinates(p))
        if reverse_part:
            coords = coords[::-1]  # the piece runs u -> foot; walk it foot -> u
        pts = np.vstack([shapely.get_coordinates(g), shapely.get_coordinates(f), coords])
        out[i] = shapely.linestrings(pts)
    return out
