#!/usr/bin/env python3
"""make_fixtures.py - write the synthetic, Hackney-like output CSVs the chart tests draw.

Illustrative numbers only (not a model run): about 3,681 plans in January 2025 growing about
8% a year to 2040 with widening bands, published history 2010-2024, 13 needs, RP and SS
capacity with waves, shortfall probabilities and spend in tens of millions of pounds. Columns
follow DESIGN.md "Outputs"; shortfall.csv also carries the optional demand_p025, demand_p10 and
demand_p975 columns chart.h documents, and waves.csv the optional group column; plain/ holds a
shortfall.csv with the DESIGN.md columns only. Run from this directory: python3 make_fixtures.py
"""
import math
import random
from statistics import NormalDist

random.seed(20251)
Z = NormalDist()
QS = [0.025, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.975]
BASE = 2025
NEEDS = ["ASD", "HI", "MLD", "MSI", "OTH", "PD", "PMLD", "SEMH", "SLCN", "SLD", "SPLD", "VI", "UNK"]
SHARE = {"ASD": 0.31, "HI": 0.02, "MLD": 0.07, "MSI": 0.005, "OTH": 0.025, "PD": 0.03,
         "PMLD": 0.015, "SEMH": 0.16, "SLCN": 0.23, "SLD": 0.05, "SPLD": 0.03, "VI": 0.01,
         "UNK": 0.045}
DRIFT = {"ASD": 0.012, "SEMH": 0.006, "MLD": -0.008, "SLCN": -0.004}


def fmt(x):
    return f"{x:.2f}".rstrip("0").rstrip(".")


def history_total(y):
    return 3681 / (1.068 ** (BASE - y)) * (1 + 0.02 * math.sin(y))


def lognormal_qs(m, sigma):
    return [m * math.exp(sigma * Z.inv_cdf(q)) for q in QS]


def share(need, y):
    s = SHARE[need] * (1 + DRIFT.get(need, 0.0)) ** (y - BASE)
    return s / sum(SHARE[n] * (1 + DRIFT.get(n, 0.0)) ** (y - BASE) for n in NEEDS)


def demand_rows():
    rows = []
    for y in range(2010, 2041):
        if y <= BASE:
            tot = round(history_total(y)) if y < BASE else 3681
            rows.append([y, "ALL", "ALL", "ALL", tot, 0] + [tot] * 9)
            for n in NEEDS:
                v = round(tot * share(n, y))
                rows.append([y, "ALL", n, "ALL", v, 0] + [v] * 9)
            continue
        h = y - BASE
        m = 3681 * math.exp(sum(0.08 * 0.97 ** k for k in range(h)))
        sig = 0.035 * h ** 0.85
        q = lognormal_qs(m, sig)
        rows.append([y, "ALL", "ALL", "ALL", m * math.exp(sig * sig / 2), m * sig] + q)
        for n in NEEDS:
            mn = m * share(n, y)
            rows.append([y, "ALL", n, "ALL", mn * math.exp(sig * sig / 2), mn * sig]
                        + lognormal_qs(mn, sig * 1.1))
        for ph, f in (("PRI", 0.38), ("SEC", 0.34)):
            rows.append([y, ph, "ALL", "ALL", m * f, m * f * sig] + lognormal_qs(m * f, sig))
    return rows


CAP = {"RP": (180, {2027: 40, 2029: 60}), "SS": (520, {2028: 80, 2031: 100})}
GROUP_DEMAND = {"RP": (168, 0.075), "SS": (505, 0.065)}
PHASE_SPLIT = {"RP": {"PRI": 0.55, "SEC": 0.45}, "SS": {"PRI": 0.40, "SEC": 0.42, "P16": 0.18}}
NEED_SPLIT = {"ASD": 0.5, "SLCN": 0.2, "SEMH": 0.15, "SLD": 0.15}


def capacity(g, y):
    base, waves = CAP[g]
    return base + sum(p for oy, p in waves.items() if oy < y)  # open by September y-1


def shortfall_row(y, g, ph, nd, cap, p50, sig, plain):
    p90 = p50 * math.exp(1.2816 * sig)
    p10 = p50 * math.exp(-1.2816 * sig)
    p025 = p50 * math.exp(-1.96 * sig)
    p975 = p50 * math.exp(1.96 * sig)
    p_short = 1 - Z.cdf((math.log(cap + 0.5) - math.log(p50)) / sig) if cap > 0 else 1.0
    sf_mean = max(0.0, p50 - cap) + 0.4 * p50 * sig * math.exp(-((p50 - cap) / (p50 * sig + 1)) ** 2)
    row = [y, g, ph, nd, round(cap), round(p50), round(p90), round(sf_mean, 1),
           max(0, round(p50 - cap)), max(0, round(p90 - cap)), round(p_short, 4),
           max(0, math.ceil(p90 - cap))]
    if not plain:
        row += [round(p025), round(p10), round(p975)]
    return row


def shortfall_rows(plain):
    rows = []
    for y in range(2026, 2041):
        h = y - BASE
        sig = 0.06 * h ** 0.6
        for g in ("RP", "SS"):
            d0, gr = GROUP_DEMAND[g]
            p50 = d0 * (1 + gr) ** h
            cap = capacity(g, y)
            rows.append(shortfall_row(y, g, "ALL", "ALL", cap, p50, sig, plain))
            for ph, f in PHASE_SPLIT[g].items():
                rows.append(shortfall_row(y, g, ph, "ALL", cap * f, p50 * f * (1 + 0.01 * h * (ph == "SEC")), sig * 1.2, plain))
                for nd, fn in NEED_SPLIT.items():
                    rows.append(shortfall_row(y, g, ph, nd, cap * f * fn,
                                              p50 * f * fn * (1 + 0.02 * h * (nd == "ASD")), sig * 1.4, plain))
    return rows


def cost_rows():
    rows = []
    for y in range(2026, 2041):
        h = y - BASE
        for s, m0, gr in (("ALL", 61.0e6, 0.095), ("MS", 21.0e6, 0.08), ("RP", 4.1e6, 0.09),
                          ("SS", 19.5e6, 0.09), ("IS", 16.4e6, 0.12)):
            sig = 0.04 * h ** 0.8 * (1.6 if s == "IS" else 1)
            m = m0 * (1 + gr) ** h
            q = dict(zip(QS, lognormal_qs(m, sig)))
            rows.append([y, s, round(m * math.exp(sig * sig / 2))] +
                        [round(q[k]) for k in (0.025, 0.10, 0.50, 0.90, 0.975)])
    return rows


def waves_rows():
    return [["1", 2027, 40, 18.4, 2026, "RP"], ["2", 2028, 80, 35.2, 2027, "SS"],
            ["3", 2029, 60, 22.9, "", "RP"], ["4", 2031, 100, 41.7, 2030, "SS"]]


def provision_rows():
    rows = []
    for y in range(2026, 2041):
        for pid, pl in (("ARP-01", 60), ("ARP-02", 120), ("SS-01", 520)):
            occ = pl * min(1.0, 0.9 + 0.01 * (y - BASE))
            rows.append([y, pid, pl, round(occ, 1), round(occ), pl, round(min(1, 0.3 + 0.05 * (y - BASE)), 3)])
    return rows


def backtest_rows():
    rows = []
    for origin in range(2016, 2023):
        for h in (1, 2, 3):
            y = origin + h
            if y > BASE:
                continue
            actual = round(history_total(y)) if y < BASE else 3681
            start = history_total(origin)
            p50 = start * 1.06 ** h * (1 + random.gauss(0, 0.03))
            sig = 0.04 * h ** 0.8
            q = [p50 * math.exp(sig * Z.inv_cdf(k)) for k in (0.025, 0.10, 0.5, 0.90, 0.975)]
            ape = abs(q[2] - actual) / actual * 100
            rows.append([origin, h, y, "ALL", actual] + [round(v) for v in q] +
                        [round(ape, 2), int(q[1] <= actual <= q[3]), int(q[0] <= actual <= q[4])])
    return rows


def compare_rows():
    rows = []
    for y in range(2026, 2041):
        h = y - BASE
        a = 12 * 1.12 ** h
        b = a * (0.62 if y >= 2028 else 1.0)
        rows.append([y, "shortfall", round(a, 1), round(b, 1), round(b - a, 1),
                     round(b - a - abs(b - a) * 0.4 - 2, 1), round(b - a + abs(b - a) * 0.4 + 2, 1)])
        a2 = a * 0.9
        b2 = b * 0.9
        rows.append([y, "out_of_borough", round(a2, 1), round(b2, 1), round(b2 - a2, 1),
                     round(b2 - a2 - abs(b2 - a2) * 0.4 - 2, 1), round(b2 - a2 + abs(b2 - a2) * 0.4 + 2, 1)])
        s_a = 61.0e6 * 1.095 ** h
        s_b = s_a - (a - b) * 58000 + (1.2e6 if y >= 2028 else 0)
        d = s_b - s_a
        rows.append([y, "spend", round(s_a), round(s_b), round(d),
                     round(d - abs(d) * 0.5 - 4e5), round(d + abs(d) * 0.5 + 4e5)])
    return rows


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(fmt(v) if isinstance(v, float) else str(v) for v in r) + "\n")


SF = ["year", "group", "phase", "need", "capacity", "demand_p50", "demand_p90", "shortfall_mean",
      "shortfall_p50", "shortfall_p90", "p_shortfall", "places_for_target"]
write("demand.csv", ["year", "phase", "need", "setting", "mean", "sd", "p025", "p05", "p10", "p25",
                     "p50", "p75", "p90", "p95", "p975"], demand_rows())
write("shortfall.csv", SF + ["demand_p025", "demand_p10", "demand_p975"], shortfall_rows(False))
write("plain/shortfall.csv", SF, shortfall_rows(True))
write("cost.csv", ["year", "setting", "mean", "p025", "p10", "p50", "p90", "p975"], cost_rows())
write("waves.csv", ["wave", "open_year", "places", "shortfall_reduction_mean",
                    "latest_safe_open_year", "group"], waves_rows())
write("provision.csv", ["year", "provision_id", "places", "occupancy_mean", "occupancy_p50",
                        "occupancy_p90", "p_full"], provision_rows())
write("backtest.csv", ["origin", "horizon", "year", "band", "actual", "p025", "p10", "p50", "p90",
                       "p975", "ape", "in80", "in95"], backtest_rows())
write("compare.csv", ["year", "measure", "a_mean", "b_mean", "diff_mean", "diff_p05", "diff_p95"],
      compare_rows())
