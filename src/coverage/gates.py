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
are listed. :func:`assign_gates` records why a gate is not used.

Internal ways: where a compound has ways inside (the network's own edges and its residents-only
ways), the walks inside follow them (:func:`compound_ways`, :class:`_Ways`). They are added in
two copies per compound, both one-way at their ends: the residents' copy is entered from gates
and the compound's facilities and left only to homes; the visitors' copy (public ways only) is
entered from the compound's facilities and left only to public gates. No route runs gate ->
ways -> gate, so nobody cuts through a compound on them. A point walks straight to a gate (or a
home to a facility of its compound) where the ways do not connect the two, or where the straight
walk is no longer than the two walks onto the ways (:func:`_straight`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

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


#: Why a gate is not used (``reason`` of :func:`assign_gates`); "" for a gate in use.
UNUSED_REASONS = ("off_boundary", "access_no", "closed_at_hour")


def assign_gates(gates: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame, tolerance_m: float,
                 hour: float = 10.0, *, include_unused: bool = False) -> pd.DataFrame:
    """Gates on compound boundaries: one row per (gate, compound) within ``tolerance_m`` (m).

    ``gates`` (points, metric CRS) may carry ``gate_id``, ``access`` and ``opening_hours``;
    ``compounds`` (polygons, same CRS) must carry ``community_id``. A gate on a shared wall
    serves both compounds. Returns columns gate, compound (row positions), gate_id,
    community_id, residents (usable by residents), public (usable by visitors), x, y and
    ``reason``: why the gate is not used (``access_no``, ``closed_at_hour``), "" when residents
    use it. With ``include_unused`` every gate on no boundary adds a row with compound -1,
    community_id "" and reason ``off_boundary``.
    """
    cols = ["gate", "compound", "gate_id", "community_id", "residents", "public", "x", "y", "reason"]
    if gates is None or not len(gates) or not len(compounds):
        out = pd.DataFrame(columns=cols)
        if include_unused and gates is not None and len(gates):
            out = _off_boundary(gates, np.arange(len(gates)))
        return out
    g = gates.geometry.to_numpy()
    rings = shapely.boundary(compounds.geometry.to_numpy())
    tree = shapely.STRtree(rings)
    gi, ci = tree.query(g, predicate="dwithin", distance=tolerance_m)
    access = _text(gates, "access")[gi]
    hours = _text(gates, "opening_hours")[gi]
    is_open = np.array([open_at(h, hour) for h in hours], dtype=bool)
    residents = is_open & (access != "no")
    public = residents & ~np.isin(access, list(_PRIVATE))
    ids = _gate_ids(gates)
    out = pd.DataFrame({
        "gate": gi, "compound": ci, "gate_id": ids[gi],
        "community_id": compounds["community_id"].astype(str).to_numpy()[ci],
        "residents": residents, "public": public,
        "x": shapely.get_x(g[gi]), "y": shapely.get_y(g[gi]),
        "reason": np.where(access == "no", "access_no", np.where(is_open, "", "closed_at_hour")).astype(object),
    })
    if include_unused:
        off = np.setdiff1d(np.arange(len(gates)), gi)
        if len(off):
            out = pd.concat([out, _off_boundary(gates, off)], ignore_index=True)
    return out


def _gate_ids(gates: gpd.GeoDataFrame) -> np.ndarray:
    ids = _text(gates, "gate_id")
    return np.where(ids == "", [f"gate-{i}" for i in range(len(gates))], ids)


def _off_boundary(gates: gpd.GeoDataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Rows of :func:`assign_gates` for gates on no compound boundary."""
    g = gates.geometry.to_numpy()[rows]
    return pd.DataFrame({"gate": rows, "compound": -1, "gate_id": _gate_ids(gates)[rows], "community_id": "",
                         "residents": False, "public": False, "x": shapely.get_x(g), "y": shapely.get_y(g),
                         "reason": "off_boundary"})


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
    #: Pieces of internal ways (network edges and residents-only ways) inside the compounds.
    n_internal_ways: int = 0


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

    def edges(self, u: np.ndarray, v: np.ndarray, geom: np.ndarray, kind: str | np.ndarray, oneway: bool) -> None:
        """Append edges u → v with their geometries and kind (one, or one per edge)."""
        self.eu.append(np.asarray(u, dtype=np.int64))
        self.ev.append(np.asarray(v, dtype=np.int64))
        self.geom.append(geom)
        self.kind.append(np.full(len(u), kind, dtype=object) if isinstance(kind, str) else np.asarray(kind, dtype=object))
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
                  residents_ways: gpd.GeoDataFrame | None = None, tolerance_m: float = 10.0,
                  ) -> GatedAccess:
    """Add gate links, compound walks and compound-internal ways to ``net`` for the points of
    ``point_sets``.

    ``point_sets`` are arrays of shapely points (metric CRS); ``visitor[k]`` says whether set k
    is reached by visitors (facilities, candidates: public gates only) or is residents' homes.
    ``gate_snap`` is the :class:`~eldercare_coverage.access.Snapped` of the gate rows of
    ``gates`` on ``net`` (unsnapped gates are not used). ``residents_ways`` (lines, metric CRS,
    ``highway`` column) are the residents-only ways (:func:`~eldercare_coverage.network.residents_only`);
    with the network's own edges inside a compound they make its internal ways, which a gate
    joins when one passes within ``tolerance_m`` (m) of it. Original node and edge indices are
    kept: new nodes and edges are appended, so snaps on ``net`` stay valid on the result.
    """
    polys = compounds.geometry.to_numpy()
    ok = gate_snap.edge >= 0
    gates = gates.assign(snapped=ok).reset_index(drop=True)
    add = _Added(net.n_nodes)
    use, gate_node, street = _link_gates(net, gates, gate_snap, add)
    pieces = compound_ways(net, compounds, residents_ways)
    # Two copies of the internal ways, so that nobody walks through a compound on them: the
    # residents' copy is entered from gates and facilities and left only to homes; the
    # visitors' copy (public ways only) is entered from facilities and left only to public gates.
    inward = _Ways.build(pieces, add)
    outward = _Ways.build(pieces[~pieces["residents_only"].to_numpy(bool)], add)
    in_gate = _gates_onto(inward, gates, gate_node, add, tolerance_m, "residents", into=True)
    out_gate = _gates_onto(outward, gates, gate_node, add, tolerance_m, "public", into=False)
    joins: list[np.ndarray] = []
    ungated = []
    in_compound = []
    for pts, is_visitor in zip(point_sets, visitor):
        ways, onto = (outward, out_gate) if is_visitor else (inward, in_gate)
        join, ung, inside = _join_points(pts, is_visitor, polys, gates, gate_node, add, ways, onto)
        joins.append(join)
        in_compound.append(inside)
        if ung is not None:
            ungated.append(ung)
    _sites_to_homes(in_compound, visitor, point_sets, inward, add)
    # Each home's search target sits on a zero-length link home -> anchor, which the bounded
    # search evaluates from the home itself: a target on a gate -> home link would be seen only
    # when that particular gate is within the limit, missing homes reached through another gate.
    for k, (inside, is_visitor) in enumerate(zip(in_compound, visitor)):
        if is_visitor or not len(inside.pi):
            continue
        xy = add.xy(inside.nodes)
        anchors = add.nodes(xy[:, 0], xy[:, 1])
        add.straight(inside.nodes, anchors)
        joins[k][inside.pi] = anchors
    out = add.network(net)
    used = gates.loc[use].assign(node=gate_node[use], street_edge=street, street_name=_street_names(net, street),
                                 internal_ways=in_gate[0][use] >= 0)
    ung = pd.concat(ungated, ignore_index=True) if ungated else pd.DataFrame(columns=["compound", "visitor"])
    log.info("compound gates: %d gates link %d points in %d compounds; %d compounds without a usable gate; "
             "%d internal way pieces in %d compounds (%d residents-only)", len(use),
             sum(len(s.pi) for s in in_compound),
             len(set(np.concatenate([s.ci for s in in_compound]))) if in_compound else 0,
             ung["compound"].nunique(), len(pieces), pieces["compound"].nunique(),
             int(pieces["residents_only"].sum()))
    return GatedAccess(out, joins, used.reset_index(drop=True), ung, n_internal_ways=len(pieces))


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


def _sites_to_homes(in_compound: list, visitor: list[bool], point_sets: list[np.ndarray], inward: "_Ways",
                    add: _Added) -> None:
    """Homes reach a facility or candidate inside their own compound along its internal ways
    (the site joins the residents' copy) or, where the ways do not connect them or the straight
    walk is no longer than the two walks onto the ways, straight."""
    homes = [(s, pts) for s, pts, v in zip(in_compound, point_sets, visitor) if not v]
    for site, pts, is_visitor in zip(in_compound, point_sets, visitor):
        if not is_visitor or not len(site.pi):
            continue
        seg, pos, a = inward.nearest(site.ci, pts[site.pi])
        inward.link(add, site.nodes, pts[site.pi], seg, pos, into=True)
        lab = inward.label_of(seg)
        for home, hpts in homes:
            pair = pd.merge(pd.DataFrame({"c": site.ci, "s": np.arange(len(site.pi))}),
                            pd.DataFrame({"c": home.ci, "h": np.arange(len(home.pi))}), on="c")
            if not len(pair):
                continue
            s, h = pair["s"].to_numpy(), pair["h"].to_numpy()
            d = shapely.distance(pts[site.pi[s]], hpts[home.pi[h]])
            straight = _straight(lab[s], home.label[h], d, a[s] + home.a[h])
            add.straight(site.nodes[s[straight]], home.nodes[h[straight]])


def _straight(lab_a: np.ndarray, lab_b: np.ndarray, d: np.ndarray, access: np.ndarray) -> np.ndarray:
    """Which pairs walk straight: those the internal ways do not connect (not on one connected
    part of them) and those whose straight walk ``d`` is no longer than the two walks onto the
    ways (``access``, m)."""
    return ~((lab_a >= 0) & (lab_a == lab_b) & (d > access))


@dataclass
class _Inside:
    """Points of one set inside gated compounds: point indices, compounds, their nodes, and
    the connected part of the internal ways each joins (-1: none) with the walk onto it (m)."""

    pi: np.ndarray
    ci: np.ndarray
    nodes: np.ndarray
    label: np.ndarray
    a: np.ndarray


def _join_points(pts: np.ndarray, is_visitor: bool, polys: np.ndarray, gates: pd.DataFrame,
                 gate_node: np.ndarray, add: _Added, ways: "_Ways", onto: tuple[np.ndarray, np.ndarray]):
    """Nodes for the points inside compounds with a usable gate, each joined to the compound's
    internal ways (``ways``; homes: ways -> home, visitors: site -> ways) and walking straight to
    every usable gate the ways do not better serve (:func:`_straight`; ``onto`` = the part of
    the ways each gate row joins and its walk onto them). One-way, in the searches' direction:
    facility -> gate, gate -> home. Returns the join array (node per point, -1 outside), the
    compounds without a usable gate (or None) and the :class:`_Inside` points."""
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
    # the usable gate rows of each point's compound, without a Python loop over the points
    order = np.argsort(usable["compound"].to_numpy(np.int64), kind="stable")
    sorted_c = usable["compound"].to_numpy(np.int64)[order]
    lo, hi = np.searchsorted(sorted_c, ci, "left"), np.searchsorted(sorted_c, ci, "right")
    has = hi > lo
    ung = pd.DataFrame({"compound": ci[~has], "visitor": is_visitor}) if (~has).any() else None
    pi, ci, lo, cnt = pi[has], ci[has], lo[has], (hi - lo)[has]
    nodes = add.nodes(shapely.get_x(pts[pi]), shapely.get_y(pts[pi]))
    join[pi] = nodes
    seg, pos, a = ways.nearest(ci, pts[pi])
    ways.link(add, nodes, pts[pi], seg, pos, into=is_visitor)
    label = ways.label_of(seg)
    if cnt.sum():
        k = np.repeat(np.arange(len(ci)), cnt)
        gi = usable.index.to_numpy()[order[np.repeat(lo, cnt) + np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)]]
        d = np.hypot(shapely.get_x(pts[pi[k]]) - gates["x"].to_numpy(float)[gi],
                     shapely.get_y(pts[pi[k]]) - gates["y"].to_numpy(float)[gi])
        straight = _straight(label[k], onto[0][gi], d, a[k] + onto[1][gi])
        k, gi = k[straight], gi[straight]
        if is_visitor:
            add.straight(nodes[k], gate_node[gi])
        else:
            add.straight(gate_node[gi], nodes[k])
    return join, ung, _Inside(pi, ci, nodes, label, a)


# --------------------------------------------------------------------------------------------
# Internal ways of compounds

#: ``highway`` prefix of the internal-way copies in a gated network (``compound_way;footway``),
#: so the basemap leaves them out and the steps cost still finds ``steps``.
COMPOUND_WAY = "compound_way"
#: Ways are clipped to the compound polygon shrunk by this much (m), so that a street drawn on
#: (or just inside) the compound's boundary does not count as an internal way.
INSET_M = 2.0


def compound_ways(net: WalkNetwork, compounds: gpd.GeoDataFrame,
                  residents_ways: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """The pieces of walkable ways inside each compound (clipped to its polygon less
    :data:`INSET_M`): the network's own edges and the residents-only ways. Columns compound
    (row position), highway, residents_only, geometry (metric CRS)."""
    polys = shapely.buffer(compounds.geometry.to_numpy(), -INSET_M)
    tree = shapely.STRtree(polys)
    parts = []
    sources = [(net.edge_geometry, _column(net.edge_attrs, "highway", net.n_edges), False)]
    if residents_ways is not None and len(residents_ways):
        sources.append((residents_ways.geometry.to_numpy(),
                        _column(residents_ways, "highway", len(residents_ways)), True))
    for lines, highway, private in sources:
        li, ci = tree.query(lines, predicate="intersects")
        if not len(li):
            continue
        clipped = shapely.intersection(lines[li], polys[ci])
        geoms, k = shapely.get_parts(clipped, return_index=True)
        keep = (shapely.get_type_id(geoms) == 1) & (shapely.length(geoms) > 0)
        k = k[keep]
        parts.append(pd.DataFrame({"compound": ci[k], "highway": highway[li[k]], "residents_only": private,
                                   "geometry": geoms[keep]}))
    df = pd.concat(parts, ignore_index=True) if parts else \
        pd.DataFrame({"compound": pd.Series(dtype=int), "highway": pd.Series(dtype=object),
                      "residents_only": pd.Series(dtype=bool), "geometry": pd.Series(dtype=object)})
    return gpd.GeoDataFrame(df, geometry="geometry", crs=compounds.crs)


def _column(df: pd.DataFrame, col: str, n: int) -> np.ndarray:
    return df[col].fillna("").astype(str).to_numpy(dtype=object) if col in df else np.full(n, "", dtype=object)


@dataclass
class _Ways:
    """One copy of the compounds' internal ways in the gated network: its segments (noded at
    every crossing, appended as two-way edges between appended nodes), their end nodes, the
    compound and the connected part (``label``) of each segment."""

    geom: np.ndarray
    u: np.ndarray
    v: np.ndarray
    compound: np.ndarray
    label: np.ndarray
    kind: np.ndarray
    trees: dict = field(default_factory=dict)

    @classmethod
    def build(cls, pieces: gpd.GeoDataFrame, add: _Added) -> "_Ways":
        geoms, us, vs, comps = [], [], [], []
        kinds = []
        comp_of = pieces["compound"].to_numpy(np.int64)
        order = np.argsort(comp_of, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(comp_of[order]) != 0]) if len(order) else np.zeros(0, int)
        all_geom, all_hw = pieces.geometry.to_numpy(), pieces["highway"].to_numpy(dtype=object)
        for rows in np.split(order, starts[1:]) if len(order) else []:
            c, src, hw = comp_of[rows[0]], all_geom[rows], all_hw[rows]
            seg = shapely.get_parts(shapely.union_all(src))  # noded where ways meet or cross
            seg = seg[(shapely.get_type_id(seg) == 1) & (shapely.length(seg) > 0)]
            # each segment keeps the tags of the way it lies on (steps stay steps)
            mid = shapely.line_interpolate_point(seg, 0.5, normalized=True)
            _, near = shapely.STRtree(src).query_nearest(mid, return_distance=False, all_matches=False)
            kinds.append(np.array([f"{COMPOUND_WAY};{h}" for h in hw[near]], dtype=object))
            ends = np.concatenate([shapely.get_coordinates(shapely.get_point(seg, 0)),
                                   shapely.get_coordinates(shapely.get_point(seg, -1))])
            key, inv = np.unique(np.round(ends, 2), axis=0, return_inverse=True)
            inv = inv.ravel()
            nodes = add.nodes(key[:, 0], key[:, 1])
            geoms.append(seg)
            us.append(nodes[inv[:len(seg)]])
            vs.append(nodes[inv[len(seg):]])
            comps.append(np.full(len(seg), c, dtype=np.int64))
        if not geoms:
            e = np.zeros(0, dtype=np.int64)
            return cls(np.empty(0, dtype=object), e, e, e, e, np.empty(0, dtype=object))
        geom, u, v, kind = np.concatenate(geoms), np.concatenate(us), np.concatenate(vs), np.concatenate(kinds)
        add.edges(u, v, geom, kind, False)
        lo = min(u.min(), v.min())
        n = max(u.max(), v.max()) - lo + 1
        _, comp = connected_components(sp.csr_matrix((np.ones(len(u)), (u - lo, v - lo)), shape=(n, n)),
                                       directed=False)
        return cls(geom, u, v, np.concatenate(comps), comp[u - lo].astype(np.int64), kind)

    def label_of(self, seg: np.ndarray) -> np.ndarray:
        """Connected part of each segment index (-1 for -1)."""
        return np.where(seg >= 0, self.label[np.maximum(seg, 0)] if len(self.label) else -1, -1)

    def nearest(self, compound: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For points in the given compounds: the nearest segment of their own compound (-1:
        the compound has no internal way), the position along it (m) and the distance (m)."""
        seg = np.full(len(pts), -1, dtype=np.int64)
        pos = np.zeros(len(pts))
        dist = np.full(len(pts), np.inf)
        if not len(self.geom) or not len(pts):
            return seg, pos, dist
        for c in np.intersect1d(np.unique(compound), self.compound):
            mine = np.flatnonzero(self.compound == c)
            if c not in self.trees:
                self.trees[c] = shapely.STRtree(self.geom[mine])
            at = np.flatnonzero(compound == c)
            pi, si = self.trees[c].query_nearest(pts[at], all_matches=False)
            seg[at[pi]] = mine[si]
        ok = seg >= 0
        pos[ok] = shapely.line_locate_point(self.geom[seg[ok]], pts[ok])
        dist[ok] = shapely.distance(self.geom[seg[ok]], pts[ok])
        return seg, pos, dist

    def link(self, add: _Added, nodes: np.ndarray, pts: np.ndarray, seg: np.ndarray, pos: np.ndarray,
             into: bool) -> None:
        """One-way walks between points (at ``nodes``) and both ends of their segment: straight to
        a node at the foot of the point on the segment, then along the two pieces of the segment,
        which keep its kind (so steps stay steps); point -> ways with ``into``, else ways -> point."""
        ok = np.flatnonzero(seg >= 0)
        if not len(ok):
            return
        g, p, s = self.geom[seg[ok]], pos[ok], seg[ok]
        foot_pt = shapely.line_interpolate_point(g, p)
        foot = add.nodes(shapely.get_x(foot_pt), shapely.get_y(foot_pt))
        access = shapely.linestrings(np.stack([shapely.get_coordinates(pts[ok]),
                                               shapely.get_coordinates(foot_pt)], axis=1))
        pieces = ((self.u[s], shapely.reverse(_substrings(g, np.zeros(len(ok)), p))),  # foot -> u
                  (self.v[s], _substrings(g, p, shapely.length(g))))  # foot -> v
        if into:
            add.edges(nodes[ok], foot, access, COMPOUND_WALK, True)
            for end, piece in pieces:
                add.edges(foot, end, piece, self.kind[s], True)
        else:
            add.edges(foot, nodes[ok], shapely.reverse(access), COMPOUND_WALK, True)
            for end, piece in pieces:
                add.edges(end, foot, shapely.reverse(piece), self.kind[s], True)


def _gates_onto(ways: _Ways, gates: pd.DataFrame, gate_node: np.ndarray, add: _Added, tolerance_m: float,
                col: str, into: bool) -> tuple[np.ndarray, np.ndarray]:
    """Join each linked gate row usable by ``col`` (residents / public) to the internal ways of
    its compound passing within ``tolerance_m`` (m): gate -> ways (``into``, the residents'
    copy) or ways -> gate. Returns per gate row the connected part joined (-1: none) and the
    walk onto it (m)."""
    label = np.full(len(gates), -1, dtype=np.int64)
    a = np.full(len(gates), np.inf)
    rows = np.flatnonzero(gates[col].to_numpy(bool) & (gate_node >= 0))
    if not len(rows) or not len(ways.geom):
        return label, a
    pts = shapely.points(gates["x"].to_numpy(float)[rows], gates["y"].to_numpy(float)[rows])
    seg, pos, dist = ways.nearest(gates["compound"].to_numpy(np.int64)[rows], pts)
    seg = np.where(dist <= tolerance_m, seg, -1)
    ways.link(add, gate_node[rows], pts, seg, pos, into=into)
    label[rows] = ways.label_of(seg)
    a[rows] = np.where(seg >= 0, dist, np.inf)
    return label, a


def _street_names(net: WalkNetwork, e: np.ndarray) -> np.ndarray:
    if "name" not in net.edge_attrs:
        return np.full(len(e), "", dtype=object)
    return net.edge_attrs["name"].fillna("").astype(str).to_numpy()[e]


def _substrings(lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Pieces of ``lines`` between distances ``start`` <= ``end`` (m) along them, as lines
    (a zero-length piece is a line of two equal points). Vectorised: a per-geometry
    ``shapely.ops.substring`` loop took 80 % of a gated network's build."""
    lines = np.asarray(lines, dtype=object)
    n = len(lines)
    if not n:
        return np.empty(0, dtype=object)
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    xy, li = shapely.get_coordinates(lines, return_index=True)
    step = np.r_[0.0, np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))]
    first = np.r_[True, li[1:] != li[:-1]]
    step[first] = 0.0
    cum = np.cumsum(step)
    cum -= np.maximum.accumulate(np.where(first, cum, 0.0))  # distance from each line's start
    inner = (cum > start[li]) & (cum < end[li])
    a = shapely.get_coordinates(shapely.line_interpolate_point(lines, start))
    b = shapely.get_coordinates(shapely.line_interpolate_point(lines, end))
    return _lines_from(np.concatenate([a, xy[inner], b]),
                       np.concatenate([np.arange(n), li[inner], np.arange(n)]),
                       np.concatenate([np.full(n, -1.0), cum[inner], np.full(n, np.inf)]), n)


def _lines_from(xy: np.ndarray, line: np.ndarray, order: np.ndarray, n: int) -> np.ndarray:
    """``n`` lines from coordinates, each coordinate's line index and its order along it."""
    o = np.lexsort((order, line))
    return shapely.linestrings(xy[o], indices=line[o])


def _join(gate: np.ndarray, foot: np.ndarray, part: np.ndarray, reverse_part: bool) -> np.ndarray:
    """Line gate -> foot of the gate on the street -> along the street piece to its end node."""
    n = len(gate)
    if not n:
        return np.empty(0, dtype=object)
    xy, li = shapely.get_coordinates(np.asarray(part, dtype=object), return_index=True)
    rank = np.arange(len(li), dtype=np.float64)
    if reverse_part:
        rank = -rank  # the piece runs u -> foot; walk it foot -> u
    return _lines_from(np.concatenate([shapely.get_coordinates(gate), shapely.get_coordinates(foot), xy]),
                       np.concatenate([np.arange(n), np.arange(n), li]),
                       np.concatenate([np.full(n, -np.inf), np.full(n, -1e300), rank]),
                       n)
