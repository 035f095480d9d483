"""`bimo eval report RUN_DIR`: one self-contained HTML page plus PNG charts.

The run folder is read by content, not by file name: a JSONL whose records have
`winner` holds battles, one with `rubric` and `scores` holds judgments, one with
`response` and `length` holds predictions for the length score; `*.sqlite` files
are battle stores, `agreement*.json` are judge self-consistency checks and
`calibration*.json` / `probe*.json` are judge calibrations (`bimo eval calibrate`, `probe`). Charts
are written as PNG next to `index.html` and also embedded in it, so the page works
when mailed alone.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from bimo.evaluate.battles import Battle
from bimo.evaluate.defaults import ROUNDS
from bimo.llm.uri import ModelURI

_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*([bm])\b", re.I)


def small_judge_warning(judge: str) -> str | None:
    """A warning when the judge is a small model (embedded default, or a name saying < 7B)."""
    low = judge.lower()
    sizes = [float(n) / (1000 if u.lower() == "m" else 1) for n, u in _SIZE.findall(low)]
    uri = ModelURI.known(judge)
    if (uri is not None and uri.scheme == "local") or "tiny" in low or any(s < 7 for s in sizes):
        return (f"judge {judge} is a small model: its verdicts are weak and often position-biased; "
                "use them for smoke tests, and a strong judge for real comparisons")
    return None


def collect(run_dir: Path) -> dict[str, Any]:
    """Everything in a run folder, sorted into battles, judgments, predictions, agreement, errors."""
    from bimo.errors import BimoError
    from bimo.evaluate.battles import load_battles, parse_battles
    from bimo.io import iter_jsonl

    found: dict[str, Any] = {"battles": [], "judgments": [], "predictions": {}, "agreement": [], "errors": {},
                             "calibration": []}
    for path in sorted(run_dir.iterdir()):
        if path.name.endswith(".errors.jsonl"):
            found["errors"][path.name] = sum(1 for _ in iter_jsonl(path, errors=[]))
        elif path.suffix == ".jsonl" and path.name != "criteria.jsonl":
            recs = list(iter_jsonl(path, errors=[]))
            if not recs:
                continue
            first = recs[0]
            if "winner" in first and "model_a" in first:
                found["battles"] += parse_battles(recs, str(path))
            elif "rubric" in first and "scores" in first:
                found["judgments"] += recs
            elif "response" in first and "length" in first:
                # Bench output keeps `length: null` for prompts without a length requirement;
                # only those with one have an S_l.
                with_length = [r for r in recs if r.get("length") is not None]
                if with_length:
                    found["predictions"][path.stem] = with_length
        elif path.suffix in (".sqlite", ".db"):
            try:
                found["battles"] += load_battles(path)
            except BimoError:
                continue
        elif path.suffix == ".json" and path.name.startswith(("calibration", "probe", "agreement")):
            kind = "agreement" if path.name.startswith("agreement") else "calibration"
            found[kind].append(json.loads(path.read_text(encoding="utf-8")))
    return found


def build_report(run_dir: str | Path, out_dir: str | Path, baseline: str | None = None, rounds: int = ROUNDS) -> Path:
    """Write out_dir/index.html and the PNGs; returns the HTML path."""
    from bimo.errors import BimoError
    from bimo.extras import require

    require("plots", "the report")
    import matplotlib

    matplotlib.use("Agg")
    from bimo.evaluate import charts
    from bimo.io import atomic_write_text

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    data = collect(run_dir)
    if not (data["battles"] or data["judgments"] or data["predictions"] or data["agreement"] or data["calibration"]):
        raise BimoError(f"{run_dir}: nothing to report (no battles, judgments, predictions with length, or agreement.json)")
    out_dir.mkdir(parents=True, exist_ok=True)
    sections: list[str] = []
    images: dict[str, Path] = {}

    judges = sorted({b.judge for b in data["battles"] if b.judge} | {j.get("judge") for j in data["judgments"] if j.get("judge")}
                    | {a.get("judge") for a in data["agreement"] if a.get("judge")})
    sections.append(_judges_html(judges))

    if data["battles"]:
        from bimo.evaluate.ratings import compute_ratings
        from bimo.evaluate.winrate import models_of, win_rate_matrix

        res = compute_ratings(data["battles"], baseline=baseline, rounds=rounds)
        images["ratings"] = charts.ratings_chart(res, out_dir / "ratings.png")
        models = [r["model"] for r in res["ratings"]]
        names, mat = win_rate_matrix(data["battles"], models or models_of(data["battles"]))
        images["winrate"] = charts.winrate_heatmap(names, mat, out_dir / "winrate.png")
        sections.append(_ratings_html(res, images))
        sections.append(_pairs_html(data["battles"], models, rounds))
        sections.append(_examples_html(data["battles"]))
    if data["judgments"]:
        sections.append(_scores_html(data["judgments"], out_dir, images))
    if data["predictions"]:
        from bimo.evaluate.length import score_records

        by_model = {name: score_records(recs, source=name) for name, recs in data["predictions"].items()}
        images["length"] = charts.length_chart(by_model, out_dir / "length.png")
        images["repetition"] = charts.repetition_chart(by_model, out_dir / "repetition.png")
        sections.append(_length_html(by_model, images))
    if data["agreement"]:
        sections.append(_agreement_html(data["agreement"]))
    for k, cal in enumerate(data["calibration"]):
        images[f"calibration{k}"] = charts.calibration_chart(cal, out_dir / f"{cal.get('kind', 'calibration')}{k}.png")
        sections.append(_calibration_html(cal, images, f"calibration{k}"))
    if data["errors"]:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in data["errors"].items())
        sections.append(f"<h2>Failed judgments</h2><p>Recorded with reasons, never scored by default.</p>"
                        f"<table><tr><th>file</th><th>failures</th></tr>{rows}</table>")

    page = _PAGE.format(title=html.escape(f"bimo eval report: {run_dir.name}"), body="\n".join(sections))
    page = re.sub(r'src="file:([^"]+)"', lambda m: f'src="{_data_uri(out_dir / m.group(1))}"', page)
    out = out_dir / "index.html"
    atomic_write_text(out, page)
    return out


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _img(images: dict[str, Path], key: str, alt: str) -> str:
    return f'<img src="file:{images[key].name}" alt="{html.escape(alt)}">' if key in images else ""


def _judges_html(judges: list[str]) -> str:
    if not judges:
        return "<h2>Judge</h2><p>No judge recorded.</p>"
    items = "".join(f"<li><code>{html.escape(j)}</code></li>" for j in judges)
    warns = "".join(f'<p class="warn">⚠ {html.escape(w)}</p>' for j in judges if (w := small_judge_warning(j)))
    return f"<h2>Judge</h2><ul>{items}</ul>{warns}"


def _ratings_html(res: dict[str, Any], images: dict[str, Path]) -> str:
    rows = "".join(
        f"<tr><td>{k}</td><td>{html.escape(r['model'])}</td><td>{r['rating']:.1f}</td>"
        f"<td>[{r['lower']:.1f}, {r['upper']:.1f}]</td><td>{r['battles']}</td>"
        f"<td>{_pct(r['win_rate'])}</td></tr>"
        for k, r in enumerate(res["ratings"], 1))
    return (f"<h2>Ratings</h2><p>Bradley-Terry on the Elo scale, {res['baseline']} = 1000, "
            f"95% bootstrap intervals ({res['bootstrap_rounds']} rounds) over {res['n_battles']} battles.</p>"
            f"<table><tr><th>#</th><th>model</th><th>rating</th><th>95% CI</th><th>battles</th><th>win rate</th></tr>{rows}</table>"
            f"{_img(images, 'ratings', 'ratings')}<h2>Win rates</h2>"
            f"<p>Row model's win rate against column model (ties as half). Above 55% clearly better, below 45% clearly worse.</p>"
            f"{_img(images, 'winrate', 'win-rate matrix')}")


def _pairs_html(battles: list[Battle], models: list[str], rounds: int) -> str:
    """Every pair of models that met: win rate and length-controlled win rate, each with its 95% interval."""
    from bimo.evaluate.winrate import pair_summary, verdict_text

    met = {frozenset((b.model_a, b.model_b)) for b in battles}
    rows = []
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            if frozenset((a, b)) not in met:
                continue
            s = pair_summary(battles, a, b, rounds=rounds)
            lc = "-" if s["lc_win_rate"] is None else _pct(s["lc_win_rate"])
            lc_ci = f"[{_pct(s['lc_ci'][0])}, {_pct(s['lc_ci'][1])}]" if s.get("lc_ci") else "-"
            rows.append(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{s['n']}</td>"
                        f"<td>{s['wins']} / {s['ties']} / {s['losses']}</td><td>{_pct(s['win_rate'])}</td>"
                        f"<td>[{_pct(s['ci'][0])}, {_pct(s['ci'][1])}]</td><td>{html.escape(verdict_text(s))}</td>"
                        f"<td>{lc}</td><td>{lc_ci}</td></tr>")
    if not rows:
        return ""
    return ("<h2>Pairwise win rates</h2><p>Win rate of the first model (ties as half) with a 95% bootstrap "
            "interval; the verdict is \"better\" or \"worse\" only when the interval clears the 45-55% band; "
            "LC is the length-controlled win rate, the rate at equal answer length, with its own "
            f"95% bootstrap interval ({rounds} rounds).</p>"
            "<table><tr><th>model</th><th>vs</th><th>battles</th><th>W / T / L</th><th>win rate</th><th>95% CI</th>"
            f"<th>verdict</th><th>LC win rate</th><th>LC 95% CI</th></tr>{''.join(rows)}</table>")


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.1%}"


def _examples_html(battles: list[Battle], k: int = 3) -> str:
    shown = [b for b in battles if b.response_a and b.response_b][:k]
    if not shown:
        return ""
    parts = ["<h2>Side-by-side examples</h2>"]
    for b in shown:
        verdict = {"model_a": b.model_a, "model_b": b.model_b, "tie": "tie"}[b.winner]
        parts.append(
            f"<div class='ex'><p><b>Prompt:</b> {html.escape(_cut(b.prompt, 600))}</p>"
            f"<p><b>Verdict:</b> {html.escape(verdict)} <small>{html.escape(str(b.meta.get('verdicts', '')))}</small></p>"
            f"<div class='sbs'><div><h4>{html.escape(b.model_a)}</h4><pre>{html.escape(_cut(b.response_a, 1500))}</pre></div>"
            f"<div><h4>{html.escape(b.model_b)}</h4><pre>{html.escape(_cut(b.response_b, 1500))}</pre></div></div></div>")
    return "".join(parts)


def _cut(text: str | None, n: int) -> str:
    text = text or ""
    return text if len(text) <= n else text[:n] + " …"


def _scores_html(judgments: list[dict[str, Any]], out_dir: Path, images: dict[str, Path]) -> str:
    from bimo.evaluate import charts
    from bimo.evaluate.judge import summarize_judgments

    summary = summarize_judgments(judgments)
    parts = ["<h2>Judge scores</h2>"]
    for rubric in sorted({r["rubric"] for r in summary["models"]}):
        rows = [r for r in summary["models"] if r["rubric"] == rubric]
        dims = [k for k in rows[0]["dimensions"] if k != "overall"]  # a rubric may score "overall" itself
        table = "".join(f"<tr><td>{html.escape(r['model'])}</td><td>{r['n']}</td><td>{r['overall']:.2f}</td>"
                        + "".join(f"<td>{r['dimensions'][k]:.2f}</td>" if k in r["dimensions"] else "<td>-</td>"
                                  for k in dims) + "</tr>" for r in rows)
        heads = "".join(f"<th>{html.escape(k)}</th>" for k in dims)
        parts.append(f"<h3>{html.escape(rubric)}</h3><table><tr><th>model</th><th>n</th><th>overall</th>{heads}</tr>{table}</table>")
        if rows[0]["dimensions"]:
            images[f"dims_{rubric}"] = charts.dimension_chart(rows, rubric, out_dir / f"scores_{rubric}_dimensions.png")
            parts.append(_img(images, f"dims_{rubric}", f"{rubric} per dimension"))
        subset = [j for j in judgments if j["rubric"] == rubric]
        for field in ("domain", "task"):
            if any(field in j for j in subset):
                key = f"{field}_{rubric}"
                images[key] = charts.group_heatmap(subset, field, f"{rubric}: overall by {field}",
                                                   out_dir / f"scores_{rubric}_by_{field}.png")
                parts.append(_img(images, key, f"{rubric} by {field}"))
    return "".join(parts)


def _length_html(by_model: dict[str, dict[str, Any]], images: dict[str, Path]) -> str:
    buckets = sorted({b for r in by_model.values() for b in r["buckets"]}, key=_bucket_order)
    heads = "".join(f"<th>{html.escape(b)}<br>S_l / eff / rep</th>" for b in buckets)

    def cell(v: dict[str, Any]) -> str:
        return f"<td>{v['s_l']:.1f} / {v['s_l_eff']:.1f} / {v['repeated_share']:.1%}</td>"

    rows = "".join(
        f"<tr><td>{html.escape(m)}</td><td>{r['n']}</td><td>{r['s_l']:.1f}</td><td>{r['s_l_eff']:.1f}</td>"
        f"<td>{r['repeated_share']:.1%} (max {r['max_repeated_share']:.1%})</td><td>{r['leaks']}</td>"
        f"<td>{r['dangling']}</td><td>{r['flagged']}</td>"
        + "".join(cell(r["buckets"][b]) if b in r["buckets"] else "<td>-</td>" for b in buckets)
        + "</tr>" for m, r in by_model.items())
    flagged = "".join(
        f"<tr><td>{html.escape(m)}</td><td>{html.escape(str(rec['id']))}</td><td>{rec['s_l']:.1f}</td>"
        f"<td>{rec['s_l_eff']:.1f}</td><td>{html.escape('; '.join(rec['flags']))}</td></tr>"
        for m, r in by_model.items() for rec in r["records"] if rec["flags"])
    flagged_html = (f"<h3>Flagged records</h3><table><tr><th>model</th><th>id</th><th>S_l</th><th>S_l eff</th>"
                    f"<th>reasons</th></tr>{flagged}</table>") if flagged else "<p>No record is over the thresholds.</p>"
    return (f"<h2>Length score S_l, with integrity</h2><p>LongBench-Write S_l by required-length bucket; "
            f"S_l eff is S_l on the effective length (units not covered by a repeat of an earlier 8-gram); "
            f"rep is the mean share of repeated 8-grams. Thresholds: docs/write.md.</p>"
            f"<table><tr><th>model</th><th>n</th><th>S_l</th><th>S_l eff</th><th>repeated 8-grams</th>"
            f"<th>leaks</th><th>dangling</th><th>flagged</th>{heads}</tr>{rows}</table>"
            f"{_img(images, 'length', 'S_l')}{_img(images, 'repetition', 'repetition along the text')}{flagged_html}")


def _bucket_order(label: str) -> float:
    """Sort key of a length bucket label ("[0,500)", "[2k,4k)", ">20k"): its lower bound, k = 1000."""
    m = re.match(r"\[(\d+(?:\.\d+)?)(k?)", label)
    return float(m.group(1)) * (1000 if m.group(2) else 1) if m else float("inf")


def _agreement_html(results: list[dict[str, Any]]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))

    tables = ("<table>" + "".join(f"<tr><td>{html.escape(k)}</td><td>{fmt(v)}</td></tr>" for k, v in res.items())
              + "</table>" for res in results)
    return "<h2>Judge self-consistency</h2>" + "".join(tables)


def _calibration_html(cal: dict[str, Any], images: dict[str, Path], key: str) -> str:
    """Judge calibration: agreement, kappa, position and length bias, ties, next to the baselines."""
    def pct(v: Any) -> str:
        return "-" if v is None else f"{v:.1%}"

    def agree(a: dict[str, Any] | None) -> str:
        if not a or a.get("rate") is None:
            return "-"
        return f"{a['rate']:.1%} [{a['ci'][0]:.1%}, {a['ci'][1]:.1%}] (n={a['n']})"

    title = "Judge probes" if cal.get("kind") == "probe" else "Judge calibration"
    rows = []
    for r in cal["judges"]:
        if not r.get("pairs"):
            rows.append(f"<tr><td>{html.escape(r['judge'])}</td><td colspan=7>no verdicts; {r.get('failed', 0)} failed</td></tr>")
            continue
        ln = r["length"]
        k = "-" if r["kappa"] is None else f"{r['kappa']:.2f}"
        rows.append(f"<tr><td>{html.escape(r['judge'])}</td><td>{agree(r['agreement'])}</td><td>{k}</td>"
                    f"<td>{pct(r['position_flips'])}</td><td>{pct(r['first_position_wins'])}</td>"
                    f"<td>{agree(ln['preferred_longer'])} / {agree(ln['preferred_shorter'])}</td>"
                    f"<td>{pct(r['tie_rate'])}</td><td>{r['failed']}</td></tr>")
    for name, b in cal.get("baselines", {}).items():
        k = "-" if b.get("kappa") is None else f"{b['kappa']:.2f}"
        rows.append(f"<tr><td><i>{html.escape(name.replace('_', ' '))}</i></td><td>{agree(b.get('agreement'))}</td>"
                    f"<td>{k}</td><td>{pct(b.get('position_flips'))}</td><td>{pct(b.get('first_position_wins'))}</td>"
                    f"<td>-</td><td>{pct(b.get('tie_rate'))}</td><td>-</td></tr>")
    groups = [f"<tr><td>{html.escape(r['judge'])}</td><td>{html.escape(g)}</td><td>{agree(v)}</td>"
              f"<td>{pct(v.get('flips'))}</td></tr>" for r in cal["judges"] for g, v in (r.get("by_category") or {}).items()]
    return (f"<h2>{title}</h2><p>{cal['pairs']} pairs from {html.escape(str(cal.get('source')))}, "
            f"{cal.get('skipped', 0)} skipped with reasons. Agreement: the verdict given in both orders (one that "
            "changes with the order counts as a tie) equals the label.</p>"
            "<table><tr><th>judge</th><th>agreement</th><th>kappa</th><th>position flips</th><th>first-position wins</th>"
            "<th>agreement when preferred is longer / shorter</th><th>ties</th><th>failed</th></tr>"
            + "".join(rows) + "</table>" + _img(images, key, title)
            + ("<table><tr><th>judge</th><th>category</th><th>agreement</th><th>flips</th></tr>" + "".join(groups)
               + "</table>" if groups else ""))


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
img {{ max-width: 100%; display: block; margin: 1em 0; }}
.warn {{ background: #fff3cd; border: 1px solid #e0c36a; padding: 8px; }}
.sbs {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }}
pre {{ white-space: pre-wrap; background: #f7f7f7; padding: 8px; font-size: 0.9em; }}
.ex {{ border-top: 1px solid #ddd; margin-top: 1em; }}
</style></head><body>
<h1>{title}</h1>
{body}
</body></html>
"""
