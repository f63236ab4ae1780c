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
from dataclasses import dataclass

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
    n0, m0 = net.n_nodes, net.n_edges
    xs, ys, eu, ev, geom, kind, oneway = [], [], [], [], [], [], []

    # gate nodes: one per usable gate row, linked to both ends of the street edge it opens onto
    use = np.flatnonzero(ok & gates["residents"].to_numpy(bool))
    gate_node = np.full(len(gates), -1, dtype=np.int64)
    gate_node[use] = n0 + np.arange(len(use))
    gx, gy = gates["x"].to_numpy()[use], gates["y"].to_numpy()[use]
    xs.append(gx)
    ys.append(gy)
    e = gate_snap.edge[use]
    pos = gate_snap.pos[use]
    street = net.edge_geometry[e]
    foot = shapely.points(gate_snap.x[use], gate_snap.y[use])
    gate_pt = shapely.points(gx, gy)
    # The link geometry runs gate -> foot on the street -> end node, so its length (the edge
    # length) is the gate's access walk plus the street piece.
    for end, part, backwards in ((net.edge_u[e], _substrings(street, np.zeros(len(use)), pos), True),
                                 (net.edge_v[e], _substrings(street, pos, net.edge_length[e]), False)):
        eu.append(gate_node[use])
        ev.append(end.astype(np.int64))
        geom.append(_join(gate_pt, foot, part, reverse_part=backwards))
        kind.append(np.full(len(use), GATE_LINK, dtype=object))
        oneway.append(np.zeros(len(use), dtype=bool))

    next_node = n0 + len(use)
    joins: list[np.ndarray] = []
    ungated = []
    in_compound = []
    for pts, is_visitor in zip(point_sets, visitor):
        join = np.full(len(pts), -1, dtype=np.int64)
        present = ~(shapely.is_missing(pts) | shapely.is_empty(pts)) if len(pts) else np.zeros(0, bool)
        pi, ci = shapely.STRtree(polys).query(pts, predicate="within") if len(pts) else (np.zeros(0, int),) * 2
        keep = present[pi]
        pi, ci = pi[keep], ci[keep]
        # a point in nested/overlapping compounds joins the first (smallest index) only
        first = ~pd.Series(pi).duplicated().to_numpy()
        pi, ci = pi[first], ci[first]
        col = "public" if is_visitor else "residents"
        usable = gates[gates[col].to_numpy(bool) & ok]
        by_comp = usable.groupby("compound").indices
        has = np.array([c in by_comp for c in ci], dtype=bool)
        if (~has).any():
            ungated.append(pd.DataFrame({"compound": ci[~has], "visitor": is_visitor}))
        pi, ci = pi[has], ci[has]
        nodes = next_node + np.arange(len(pi))
        next_node += len(pi)
        join[pi] = nodes
        joins.append(join)
        in_compound.append((pi, ci, nodes))
        px, py = shapely.get_x(pts[pi]), shapely.get_y(pts[pi])
        xs.append(px)
        ys.append(py)
        # one straight walk between each point and each usable gate of its compound, one-way
        # facility -> gate and gate -> home (the searches' direction)
        rows = [(k, gi) for k, c in enumerate(ci) for gi in usable.index[by_comp[c]]]
        if rows:
            k, gi = np.array(rows).T
            p_xy = np.stack([px[k], py[k]], 1)
            g_xy = np.stack([gates["x"].to_numpy()[gi], gates["y"].to_numpy()[gi]], 1)
            if is_visitor:
                eu.append(nodes[k])
                ev.append(gate_node[gi])
                geom.append(shapely.linestrings(np.stack([p_xy, g_xy], 1)))
            else:
                eu.append(gate_node[gi])
                ev.append(nodes[k])
                geom.append(shapely.linestrings(np.stack([g_xy, p_xy], 1)))
            kind.append(np.full(len(k), COMPOUND_WALK, dtype=object))
            oneway.append(np.ones(len(k), dtype=bool))
    # homes walk straight to a facility or candidate inside their own compound
    homes = [s for s, v in zip(in_compound, visitor) if not v]
    for (si, sc, snodes), is_visitor in zip(in_compound, visitor):
        if not is_visitor or not len(si):
            continue
        for hi, hc, hnodes in homes:
            pair = pd.merge(pd.DataFrame({"c": sc, "s": snodes}), pd.DataFrame({"c": hc, "h": hnodes}), on="c")
            if not len(pair):
                continue
            a, b = pair["s"].to_numpy(), pair["h"].to_numpy()
            allx, ally = np.concatenate(xs), np.concatenate(ys)
            eu.append(a)
            ev.append(b)
            geom.append(shapely.linestrings(np.stack([np.stack([allx[a - n0], ally[a - n0]], 1),
                                                      np.stack([allx[b - n0], ally[b - n0]], 1)], 1)))
            kind.append(np.full(len(a), COMPOUND_WALK, dtype=object))
            oneway.append(np.ones(len(a), dtype=bool))
    # Each home's search target sits on a zero-length link home -> anchor, which the bounded
    # search evaluates from the home itself: a target on a gate -> home link would be seen only
    # when that particular gate is within the limit, missing homes reached through another gate.
    allx, ally = np.concatenate(xs), np.concatenate(ys)
    for k, ((hi, hc, hnodes), is_visitor) in enumerate(zip(in_compound, visitor)):
        if is_visitor or not len(hi):
            continue
        anchors = next_node + np.arange(len(hnodes))
        next_node += len(hnodes)
        hx, hy = allx[hnodes - n0], ally[hnodes - n0]
        xs.append(hx)
        ys.append(hy)
        eu.append(hnodes)
        ev.append(anchors)
        geom.append(shapely.linestrings(np.stack([np.stack([hx, hy], 1), np.stack([hx, hy], 1)], 1)))
        kind.append(np.full(len(hnodes), COMPOUND_WALK, dtype=object))
        oneway.append(np.ones(len(hnodes), dtype=bool))
        joins[k][hi] = anchors

    new_x = np.concatenate([net.x, *xs])
    new_y = np.concatenate([net.y, *ys])
    new_u = np.concatenate([net.edge_u.astype(np.int64), *eu])
    new_v = np.concatenate([net.edge_v.astype(np.int64), *ev])
    new_geom = np.concatenate([net.edge_geometry, *geom]) if geom else net.edge_geometry
    attrs = pd.concat([net.edge_attrs, pd.DataFrame({"highway": np.concatenate(kind) if kind else []})],
                      ignore_index=True)
    added = len(new_x) - n0
    node_id = np.concatenate([net.node_id, -1 - np.arange(added, dtype=np.int64)])
    ow = np.concatenate([np.zeros(m0, dtype=bool), *oneway])
    out = network_from_arrays(new_x, new_y, new_u, new_v, net.crs, new_geom, node_id, attrs,
                              source=net.source, oneway=ow)
    used = gates.loc[use].assign(node=gate_node[use], street_edge=e, street_name=_street_names(net, e))
    ung = pd.concat(ungated, ignore_index=True) if ungated else pd.DataFrame(columns=["compound", "visitor"])
    log.info("compound gates: %d gates link %d points in %d compounds; %d compounds without a usable gate",
             len(use), sum(len(s[0]) for s in in_compound), len(set(np.concatenate([s[1] for s in in_compound])))
             if in_compound else 0, ung["compound"].nunique())
    return GatedAccess(out, joins, used.reset_index(drop=True), ung)


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
