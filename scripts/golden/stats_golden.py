"""Golden values for src/analysis/stats (test/analysis-stats.test.ts).

Computes the expected outputs of every statistic for a fixed set of inputs with SciPy and
statsmodels, and writes test/golden/stats-golden.json. Run from the repository root:

    python3 -m venv /tmp/statsvenv
    /tmp/statsvenv/bin/pip install scipy statsmodels numpy pandas
    /tmp/statsvenv/bin/python scripts/golden/stats_golden.py

Where no package implements a method (Fay–Feuer direct standardization, Mantel–Haenszel
rate ratio with the Greenland–Robins variance, SMD), the published formula is evaluated
here with SciPy's distributions, independently of the TypeScript code.
"""

import json
import math
import os
import platform

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import proportion_confint

LEVELS = [0.95, 0.9, 0.99]


def poisson_count():
    out = []
    for k in [0, 1, 2, 3, 5, 10, 17, 50, 100, 1000, 12345]:
        for level in LEVELS:
            a = 1 - level
            lower = 0.0 if k == 0 else stats.chi2.ppf(a / 2, 2 * k) / 2
            upper = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
            out.append({"k": k, "level": level, "lower": lower, "upper": upper})
    return out


def poisson_rate():
    out = []
    for k, t in [(0, 1000.0), (3, 2500.5), (42, 123456.0), (250, 1.0e6)]:
        a = 0.05
        lower = 0.0 if k == 0 else stats.chi2.ppf(a / 2, 2 * k) / 2 / t
        upper = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2 / t
        out.append({"k": k, "personTime": t, "level": 0.95, "rate": k / t, "lower": lower, "upper": upper})
    return out


def proportions():
    out = []
    for x, n in [(0, 10), (1, 10), (5, 10), (10, 10), (3, 47), (17, 200), (999, 1000), (1, 100000)]:
        for level in LEVELS:
            wl, wu = proportion_confint(x, n, alpha=1 - level, method="wilson")
            cl, cu = proportion_confint(x, n, alpha=1 - level, method="beta")
            out.append({"x": x, "n": n, "level": level, "wilson": [wl, wu], "clopperPearson": [cl, cu]})
    return out


def fay_feuer(cases, pt, std, level):
    cases = np.asarray(cases, float)
    pt = np.asarray(pt, float)
    w = np.asarray(std, float) / np.sum(std)
    rate = cases / pt
    dsr = np.sum(w * rate)
    var = np.sum(w**2 * cases / pt**2)
    wm = np.max(w / pt)
    a = 1 - level
    lower = stats.gamma.ppf(a / 2, dsr**2 / var, scale=var / dsr) if var > 0 else 0.0
    upper = stats.gamma.ppf(1 - a / 2, (dsr + wm) ** 2 / (var + wm**2), scale=(var + wm**2) / (dsr + wm))
    return {"rate": dsr, "variance": var, "lower": lower, "upper": upper, "crude": cases.sum() / pt.sum()}


US2000 = [13818 + 55317, 72533, 73032, 72169, 66478, 64529, 71044, 80762, 81851, 72118, 62716,
          48454, 38793, 34264, 31773, 26999, 17842, 15508]
WHO = [8860, 8690, 8600, 8470, 8220, 7930, 7610, 7150, 6590, 6040, 5370, 4550, 3720, 2960, 2210,
       1520, 910, 440 + 150 + 40 + 5]


def direct():
    rng = np.random.default_rng(20260526)
    cases_sets = []
    # Increasing rates with age, modest counts (includes zeros in young bands).
    pt = np.round(rng.uniform(2000, 20000, 18))
    lam = 1e-5 * np.exp(0.09 * np.arange(18) * 5)
    cases_sets.append(("moderate", rng.poisson(lam * pt * 20).tolist(), pt.tolist()))
    pt2 = np.round(rng.uniform(50, 400, 18))
    cases_sets.append(("sparse", rng.poisson(lam * pt2 * 30).tolist(), pt2.tolist()))
    cases_sets.append(("large", rng.poisson(lam * 1e6 * 2).tolist(), [1e6] * 18))
    out = []
    for name, cases, pts in cases_sets:
        for std_name, std in [("us-2000", US2000), ("who-world-2000-2025", WHO)]:
            for level in [0.95, 0.9]:
                r = fay_feuer(cases, pts, std, level)
                out.append({"name": name, "standard": std_name, "level": level, "cases": cases,
                            "personTime": pts, **r})
    return out


def sir():
    out = []
    for o, e in [(0, 2.5), (1, 0.4), (7, 3.2), (25, 12.0), (120, 100.0), (480, 512.3)]:
        a = 0.05
        lower = 0.0 if o == 0 else stats.chi2.ppf(a / 2, 2 * o) / 2 / e
        upper = stats.chi2.ppf(1 - a / 2, 2 * o + 2) / 2 / e
        z = stats.norm.ppf(1 - a / 2)
        bl = 0.0 if o == 0 else o * max(0.0, 1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3 / e
        o1 = o + 1
        bu = o1 * (1 - 1 / (9 * o1) + z / (3 * math.sqrt(o1))) ** 3 / e
        out.append({"observed": o, "expected": e, "level": 0.95, "ratio": o / e,
                    "exact": [lower, upper], "byar": [bl, bu]})
    return out


def glm_poisson(X, y, offset, scale=None):
    model = sm.GLM(np.asarray(y, float), np.asarray(X, float), family=sm.families.Poisson(),
                   offset=np.asarray(offset, float))
    return model.fit(tol=1e-14, maxiter=200, scale=scale)


def apc():
    out = []
    series = [
        ("rising", list(range(2010, 2020)), [52, 55, 61, 60, 67, 70, 75, 79, 88, 90],
         [1e5, 1.01e5, 1.02e5, 1.03e5, 1.04e5, 1.05e5, 1.06e5, 1.07e5, 1.08e5, 1.09e5]),
        ("falling", [2015, 2016, 2017, 2018, 2019, 2020, 2021], [400, 380, 350, 355, 320, 300, 290],
         [5e5] * 7),
        ("sparse", [2000, 2001, 2002, 2003, 2004, 2005], [0, 2, 1, 3, 2, 5], [800, 820, 850, 860, 900, 910]),
    ]
    for name, years, cases, pts in series:
        ybar = np.mean(years)
        X = np.column_stack([np.ones(len(years)), np.asarray(years, float) - ybar])
        for od in [False, True]:
            fit = glm_poisson(X, cases, np.log(pts), scale="X2" if od else None)
            b = fit.params[1]
            se = fit.bse[1]
            z = stats.norm.ppf(0.975)
            out.append({"name": name, "overdispersion": od, "periods": years, "cases": cases,
                        "personTime": pts, "slope": b, "slopeSe": se,
                        "apc": 100 * math.expm1(b), "lower": 100 * math.expm1(b - z * se),
                        "upper": 100 * math.expm1(b + z * se), "pValue": fit.pvalues[1]})
    return out


def cosinor():
    out = []
    rng = np.random.default_rng(7)
    months = np.arange(1, 37)
    ang = 2 * np.pi * (months - 1) / 12
    sets = [
        ("winter-peak", rng.poisson(40 * np.exp(0.4 * np.cos(ang - 2 * np.pi * 0.5 / 12))).tolist(), False, None),
        ("summer-peak-trend", rng.poisson(20 * np.exp(0.25 * np.cos(ang - 2 * np.pi * 6.3 / 12) + 0.01 * months)).tolist(), True, None),
        ("flat", rng.poisson(np.full(36, 30.0)).tolist(), False, None),
        ("with-exposure", rng.poisson(0.002 * np.full(36, 10000.0) * np.exp(0.3 * np.sin(ang))).tolist(), False,
         (10000 + 100 * (months % 7)).tolist()),
    ]
    for name, counts, trend, exposure in sets:
        offset = np.log(exposure) if exposure is not None else np.zeros(36)
        cols = [np.ones(36), np.cos(ang), np.sin(ang)]
        red = [np.ones(36)]
        if trend:
            cols.append(months - months.mean())
            red.append(months - months.mean())
        full = glm_poisson(np.column_stack(cols), counts, offset)
        reduced = glm_poisson(np.column_stack(red), counts, offset)
        bc, bs = full.params[1], full.params[2]
        V = full.cov_params()
        A = math.hypot(bc, bs)
        varA = (bc * bc * V[1, 1] + 2 * bc * bs * V[1, 2] + bs * bs * V[2, 2]) / (A * A)
        se = math.sqrt(varA)
        z = stats.norm.ppf(0.975)
        theta = math.atan2(bs, bc) % (2 * math.pi)
        pos = 1 + 12 * theta / (2 * math.pi)
        lr = reduced.deviance - full.deviance
        out.append({"name": name, "months": months.tolist(), "counts": counts, "exposure": exposure,
                    "trend": trend, "cosCoef": bc, "sinCoef": bs, "amplitude": A,
                    "amplitudeLower": max(0.0, A - z * se), "amplitudeUpper": A + z * se,
                    "peakPosition": pos, "peakMonth": (round(pos) - 1) % 12 + 1,
                    "lrStatistic": lr, "pValue": stats.chi2.sf(lr, 2),
                    "trendCoef": full.params[3] if trend else None})
    return out


def two_by_two():
    out = []
    for a, b, c, d in [(20, 80, 10, 90), (5, 95, 1, 99), (0, 50, 7, 43), (12, 3, 40, 45), (150, 850, 100, 900)]:
        # Haldane–Anscombe: 0.5 added to every cell when one is zero. (statsmodels'
        # shift_zeros replaces only the zero cells, so the shift is applied here.)
        tab = np.array([[a, b], [c, d]], float)
        if (tab == 0).any():
            tab = tab + 0.5
        t = Table2x2(tab, shift_zeros=False)
        out.append({"a": a, "b": b, "c": c, "d": d, "oddsRatio": t.oddsratio,
                    "orCi": list(t.oddsratio_confint(alpha=0.05)), "orSeLog": t.log_oddsratio_se,
                    "orP": t.oddsratio_pvalue(), "riskRatio": t.riskratio,
                    "rrCi": list(t.riskratio_confint(alpha=0.05)), "rrSeLog": t.log_riskratio_se,
                    "rrP": t.riskratio_pvalue()})
    return out


def rules():
    out = []
    for n, na, nb, nab in [(1000, 200, 150, 60), (50, 10, 10, 0), (10000, 5000, 3000, 1500)]:
        out.append({"n": n, "nA": na, "nB": nb, "nAB": nab, "support": nab / n, "confidence": nab / na,
                    "lift": (nab / n) / ((na / n) * (nb / n)), "leverage": nab / n - (na / n) * (nb / n)})
    return out


def smd():
    rng = np.random.default_rng(11)
    x1 = rng.normal(60, 10, 40)
    x2 = rng.normal(55, 12, 55)
    s1, s2 = np.std(x1, ddof=1), np.std(x2, ddof=1)
    cont = {"x1": x1.tolist(), "x2": x2.tolist(), "mean1": float(np.mean(x1)), "sd1": float(s1),
            "mean2": float(np.mean(x2)), "sd2": float(s2),
            "smd": float((np.mean(x1) - np.mean(x2)) / math.sqrt((s1**2 + s2**2) / 2))}
    binary = []
    for p1, p2 in [(0.3, 0.2), (0.05, 0.5), (0.9, 0.9), (0.0, 0.1)]:
        binary.append({"p1": p1, "p2": p2, "smd": (p1 - p2) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)})
    return {"continuous": cont, "binary": binary}


def mantel_haenszel():
    strata = [
        {"cases1": 12, "personTime1": 2500.0, "cases0": 8, "personTime0": 3100.0},
        {"cases1": 30, "personTime1": 4100.0, "cases0": 19, "personTime0": 4000.0},
        {"cases1": 5, "personTime1": 800.0, "cases0": 9, "personTime0": 2100.0},
        {"cases1": 0, "personTime1": 300.0, "cases0": 2, "personTime0": 450.0},
        {"cases1": 3, "personTime1": 0.0, "cases0": 2, "personTime0": 100.0},
    ]
    r = s = v = 0.0
    for st in strata:
        t1, t0 = st["personTime1"], st["personTime0"]
        if t1 <= 0 or t0 <= 0:
            continue
        t = t1 + t0
        r += st["cases1"] * t0 / t
        s += st["cases0"] * t1 / t
        v += t1 * t0 * (st["cases1"] + st["cases0"]) / t**2
    est = r / s
    se = math.sqrt(v / (r * s))
    z = stats.norm.ppf(0.975)
    return {"strata": strata, "estimate": est, "seLog": se, "lower": est * math.exp(-z * se),
            "upper": est * math.exp(z * se)}


def special():
    out = {"normalQuantile": [], "gammaP": [], "betaI": []}
    for p in [1e-12, 1e-6, 0.001, 0.025, 0.1, 0.5, 0.8, 0.975, 0.999999]:
        out["normalQuantile"].append({"p": p, "x": stats.norm.ppf(p)})
    for a, x in [(0.5, 0.1), (1, 1), (3.5, 2), (10, 15), (100, 90), (1000, 1050), (0.1, 5)]:
        out["gammaP"].append({"a": a, "x": x, "p": scipy.special.gammainc(a, x),
                              "q": scipy.special.gammaincc(a, x)})
    for a, b, x in [(1, 1, 0.3), (2.5, 7, 0.2), (50, 60, 0.45), (0.5, 0.5, 0.9), (200, 3, 0.99)]:
        out["betaI"].append({"a": a, "b": b, "x": x, "i": scipy.special.betainc(a, b, x)})
    return out


def main():
    golden = {
        "generatedBy": "scripts/golden/stats_golden.py",
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
        "special": special(),
        "poissonCount": poisson_count(),
        "poissonRate": poisson_rate(),
        "proportions": proportions(),
        "direct": direct(),
        "sir": sir(),
        "apc": apc(),
        "cosinor": cosinor(),
        "twoByTwo": two_by_two(),
        "rules": rules(),
        "smd": smd(),
        "mantelHaenszel": mantel_haenszel(),
    }
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "test", "golden", "stats-golden.json")
    with open(path, "w") as f:
        json.dump(golden, f, indent=2, default=float)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
