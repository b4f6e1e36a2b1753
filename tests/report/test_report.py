#!/usr/bin/python3
"""tracereport on real tinylm diffs: report.md has the seeds' sections and the values the diff JSON holds (verdict,
counts, first failure point/layer/root cause and its metrics, the hypothesis rows, a recommendation that follows
from the root cause), report.tsv has its columns and one row per layer x stage cell with the right verdicts, the
evidence snippets are JSON of at most 25 words, several modes make one report, --run gives the same report as the
JSON, --compare classifies cells, hostile strings in the input are escaped in every output, and bad inputs or an
unwritable output give exit 2 / 3 with a message naming the file.

usage: test_report.py TINYLM TRACEDIFF TRACEREPORT OUTDIR
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys

TINYLM, TRACEDIFF, TRACEREPORT, OUT = sys.argv[1:5]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import check  # noqa: E402


def run(*args, expect=None):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        print(f"command {' '.join(args)}: exit {p.returncode}, expected {expect}\n{p.stderr}")
    return p


def path(*parts):
    return os.path.join(OUT, *parts)


def g3(v):
    """the report's number format (%.3g, 'n/a' for null)"""
    return "n/a" if v is None else "%.3g" % v


def report(*args, out):
    p = run(TRACEREPORT, *args, "-o", out, expect=0)
    check(p.returncode == 0, f"tracereport {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    check(p.stdout.strip() == os.path.join(out, "report.html"),
          f"tracereport prints the path of report.html (got {p.stdout.strip()!r})")
    md = open(os.path.join(out, "report.md"), encoding="utf-8").read()
    tsv = open(os.path.join(out, "report.tsv"), encoding="utf-8").read()
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    return md, tsv, html


def section(md, title):
    """the text of a '## title' section, up to the next '## '"""
    m = re.search(r"^## " + re.escape(title) + r"[^\n]*\n(.*?)(?=^## |\Z)", md, re.S | re.M)
    return m.group(1) if m else ""


def md_pipes(line):
    return len(re.findall(r"(?<!\\)\|", line))


def tables_well_formed(md):
    """every table row has as many unescaped pipes as its header"""
    lines = md.split("\n")
    ok, i = True, 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|(-+:?\|)+$", lines[i + 1]):
            n = md_pipes(lines[i])
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                if md_pipes(lines[j]) != n:
                    print("  bad table row:", lines[j][:160])
                    ok = False
                j += 1
            i = j
        else:
            i += 1
    return ok


SECTIONS = ["1. Execution Summary", "2. KV Alignment Analysis", "3. Drift Structural vs Real Mismatch",
            "4. First Failure by Mode", "5. Evidence Snippets (JSON)", "6. Conclusion", "7. Recommendations",
            "8. Artifacts Reference"]
SUBSECTIONS = ["### Projection Hashes", "### Attention Statistics", "### KV Alignment Indicators",
               "### Hypothesis Testing", "### Evidence Matrix", "### Verdict Criteria", "### Prompts Executed"]
TSV_COLUMNS = ["mode", "row", "layer", "stage", "stage_rank", "pairs", "match", "within_tol", "mismatch", "missing",
               "verdict", "worst_rel_l2", "worst_max_abs", "worst_prompt", "jumps", "first_failure", "in_chain",
               "root_cause"]
SEVERITY = {"MATCH": 0, "WITHIN_TOL": 1, "MISSING": 2, "MISMATCH": 3}


def check_common(md, d, name):
    for s in SECTIONS:
        check(re.search(r"^## " + re.escape(s), md, re.M), f"{name}: section '{s}'")
    for s in SUBSECTIONS:
        check(s in md, f"{name}: subsection '{s}'")
    check("TBD" not in md and "PENDING" not in md, f"{name}: no TBD left")
    check(tables_well_formed(md), f"{name}: every Markdown table row has its header's column count")
    verdict = d["verdict"] + (f" ({d['subcause']})" if d["verdict"] == "MISMATCH" else "")
    check(f"| Verdict | {verdict} |" in md, f"{name}: verdict line '{verdict}'")
    c = d["counts"]
    row = (f"| {c['pairs']} | {c['match']} | {c['within_tol']} | {c['mismatch']} | {c['missing']} | "
           f"{c['match'] + c['within_tol']} pass / {c['mismatch'] + c['missing']} fail |")
    check(row in section(md, "1. Execution Summary"), f"{name}: execution summary counts {row}")
    # evidence snippets: valid JSON, at most 25 words each
    snippets = re.findall(r"```json\n(.*?)\n```", section(md, "5. Evidence Snippets (JSON)"), re.S)
    check(len(snippets) >= 1, f"{name}: evidence snippets present")
    for s in snippets:
        try:
            json.loads(s)
            ok = True
        except ValueError:
            ok = False
        check(ok, f"{name}: snippet is JSON: {s[:80]}")
        check(len(s.split()) <= 25, f"{name}: snippet has {len(s.split())} words (max 25): {s[:80]}")
    return snippets


def expected_cells(d):
    """(layer, point) -> (verdict, worst rel_l2, npairs) from the JSON's pairs"""
    cells = {}
    for p in d["pairs"]:
        k = (p["layer"], p["point"])
        v, rel, n = cells.get(k, ("MATCH", None, 0))
        if n == 0 or SEVERITY[p["verdict"]] > SEVERITY[v]:
            v = p["verdict"]
        r = p["metrics"]["rel_l2"] if p["metrics"] else None
        if r is not None and (rel is None or r > rel):
            rel = r
        cells[k] = (v, rel, n + 1)
    return cells


def check_tsv(tsv, d, name, mode=None):
    lines = tsv.rstrip("\n").split("\n")
    check(lines[0].split("\t") == TSV_COLUMNS, f"{name}: TSV columns {lines[0]!r}")
    rows = [dict(zip(TSV_COLUMNS, ln.split("\t"))) for ln in lines[1:]]
    check(all(len(ln.split("\t")) == len(TSV_COLUMNS) for ln in lines), f"{name}: every TSV row has every column")
    rows = [r for r in rows if r["mode"] == (mode or d["mode"])]
    cells = expected_cells(d)
    check(len(rows) == len(cells), f"{name}: {len(rows)} TSV rows for {len(cells)} layer x stage cells")
    for r in rows:
        k = (int(r["layer"]), r["stage"])
        if k not in cells:
            check(False, f"{name}: TSV row {k} not in the JSON")
            continue
        v, rel, n = cells[k]
        check(r["verdict"] == v and int(r["pairs"]) == n,
              f"{name}: TSV {k}: {r['verdict']}/{r['pairs']}, expected {v}/{n}")
        if rel is not None:
            got = float(r["worst_rel_l2"])
            check(math.isclose(got, rel, rel_tol=1e-5, abs_tol=1e-300), f"{name}: TSV {k} rel {got} vs {rel}")
    ff = d["first_failure"]
    marked = [(int(r["layer"]), r["stage"]) for r in rows if r["first_failure"] == "1"]
    want = [(ff["layer"], ff["point"])] if ff else []
    check(marked == want, f"{name}: TSV first_failure marks {marked}, expected {want}")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, extra in [("ok", []), ("rope", ["--bug", "rope-pos"]), ("kvo", ["--bug", "kv-offset"])]:
        run(TINYLM, "-q", "-o", path(name + ".tt"), *extra, expect=0)
    run(TRACEDIFF, "-q", path("ok.tt"), "--json", path("ok.json"), expect=0)
    run(TRACEDIFF, "-q", path("rope.tt"), "--json", path("rope.json"), expect=1)
    run(TRACEDIFF, "-q", path("rope.tt"), "--mode", "as_designed", "--json", path("rope_ad.json"), expect=1)
    run(TRACEDIFF, "-q", path("kvo.tt"), "--mode", "kv_aligned", "--json", path("kvo_kv.json"), expect=1)
    J = {n: json.load(open(path(n + ".json"))) for n in ["ok", "rope", "rope_ad", "kvo_kv"]}

    # --- the correct engine: structural drift
    md, tsv, html = report(path("ok.json"), out=path("r_ok"))
    check_common(md, J["ok"], "ok")
    check_tsv(tsv, J["ok"], "ok")
    check(section(md, "6. Conclusion").strip().startswith("**STRUCTURAL_DRIFT"), "ok: conclusion STRUCTURAL_DRIFT")
    check("First Failure**: none" in section(md, "4. First Failure by Mode"), "ok: no first failure")
    check("--calibrate" in section(md, "7. Recommendations"), "ok: recommends calibrating tolerances")
    check("| H₀ (Null) |" in md and re.search(r"\| H₀ \(Null\) \|[^\n]*\| supported", md), "ok: H0 supported")

    # --- rope-pos: ROPE_DRIFT at q_post_rope layer 0
    d = J["rope"]
    ff = d["first_failure"]
    md, tsv, html = report(path("rope.json"), out=path("r_rope"))
    snippets = check_common(md, d, "rope")
    check_tsv(tsv, d, "rope")
    ffsec = section(md, "4. First Failure by Mode")
    check(f"**First Failure**: {ff['point']} L{ff['layer']} in {ff['key']['prompt_id']}" in ffsec,
          f"rope: first failure {ff['point']} L{ff['layer']}")
    check(f"**Root Cause**: {ff['root_cause']}" in ffsec and ff["root_cause"] == "ROPE_DRIFT", "rope: root cause")
    m = ff["metrics"]
    coord = "\\[" + ", ".join(str(c) for c in m["max_abs_coord"]) + "\\]"
    check(f"| Max abs error and where | {g3(m['max_abs'])} at {coord}" in ffsec, "rope: max abs error and where")
    check(f"| Relative L2 error | {g3(m['rel_l2'])} |" in ffsec, "rope: rel L2")
    check(f"| Cosine similarity | {'%.9g' % m['cosine']} |" in ffsec, "rope: cosine")
    check(f"| Max ULP distance | {'%.0f' % m['max_ulp']} |" in ffsec, "rope: ULP")
    check(f"| Elements outside tolerance | {m['outside_tol']} of {m['elems']} " in ffsec, "rope: outside tolerance")
    check(f"atol {g3(m['atol'])} + rtol {g3(m['rtol'])}" in ffsec and m["tol_source"] in ffsec, "rope: tolerance used")
    jump = d["pairs"][ff["pair"]]["jump"]
    check(jump and f"| Error jump | {g3(jump['baseline'])} -> {g3(m['rel_l2'])}" in ffsec, "rope: error jump")
    ev = section(md, "3. Drift Structural vs Real Mismatch")
    check(re.search(r"\| H₁ \(Alt\) \|[^\n]*\| supported \(", ev), "rope: H1 supported")
    check(re.search(r"Q/K/V projections[^\n]*\| yes: q_pre_rope rel [^\n]*\| ✓ \|", ev),
          "rope: Q/K/V row supports H0")
    check(re.search(r"no: error jump at q_post_rope L0[^\n]*\|  \| ✓ \|", ev), "rope: jump row supports H1")
    rec = section(md, "7. Recommendations")
    check("RoPE" in rec and "position" in rec, "rope: the recommendation is about the RoPE position")
    check("```sh\ntracediff " in rec, "rope: the recommendation gives a command")
    first = json.loads(snippets[0])
    check((first.get("tensor"), first.get("layer"), first.get("root_cause")) ==
          (ff["point"], ff["layer"], ff["root_cause"]), f"rope: first-failure snippet {first}")
    check("**MISMATCH" in section(md, "6. Conclusion"), "rope: conclusion MISMATCH")
    check('id="heatmap"' in html and "first-failure-marker" in html, "rope: heat map and marker in the HTML")
    check(not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?https?:""", html),
          "rope: no external reference in the HTML")
    check("Content-Security-Policy" in html and "default-src 'none'" in html, "rope: the page forbids the network")

    # --- several modes of the same traces: First Failure by Mode lists each
    md, tsv, html = report(path("rope.json"), path("rope_ad.json"), out=path("r_modes"))
    ffsec = section(md, "4. First Failure by Mode")
    ad = J["rope_ad"]["first_failure"]
    check("### numeric Mode (primary)" in ffsec and "### as_designed Mode" in ffsec, "modes: both modes listed")
    check(f"**Root Cause**: {ad['root_cause']}" in ffsec.split("### as_designed Mode")[1], "modes: as_designed cause")
    check("| as_designed | MISMATCH (" in section(md, "1. Execution Summary"), "modes: as_designed summary row")
    check_tsv(tsv, J["rope_ad"], "modes/as_designed", mode="as_designed")

    # --- kv-offset in kv_aligned: the cache checks fail
    d = J["kvo_kv"]
    md, tsv, html = report(path("kvo_kv.json"), out=path("r_kvo"))
    check_common(md, d, "kvo")
    check_tsv(tsv, d, "kvo")
    kv = section(md, "2. KV Alignment Analysis")
    check(re.search(r"\| K Hash Consistency[^\n]*\| False: ", kv), "kvo: K consistency False")
    check(re.search(r"\| K-V Aligned \(cache_write\) \| False: ", kv), "kvo: K-V aligned False")
    nfail = sum(1 for k in d["kv_checks"] if k["result"] == "fail")
    check(f"{nfail} of {len(d['kv_checks'])} fail" in section(md, "6. Conclusion"), "kvo: KV tally in the conclusion")
    check("KV-cache write and read offsets" in section(md, "7. Recommendations"), "kvo: recommendation KV offsets")
    check(re.search(r"<td>cache_write</td><td class=\"bad\">fail</td>", html), "kvo: KV checks table in the HTML")
    check(re.search(r"Attention Statistics[^\n]*\n\n\| Metric \| Pre-Softmax", kv), "kvo: attention statistics")

    # --- --run gives the same report as the JSON (modulo where it came from)
    md_run, tsv_run, _ = report("--run", "--mode", "kv_aligned", path("kvo.tt"), out=path("r_kvo_run"))
    check(tsv_run == tsv, "--run: report.tsv equal to the one from tracediff --json")

    def strip(text, src, outdir):
        return [ln.replace(outdir, "OUT") for ln in text.split("\n") if src not in ln and "tracereport --run" not in ln
                and not ln.startswith("| Generated |") and not ln.startswith("| Source |")]
    a, b = strip(md, path("kvo_kv.json"), path("r_kvo")), strip(md_run, path("kvo_kv.json"), path("r_kvo_run"))
    check(a == b, "--run: report.md equal to the one from tracediff --json" +
          "".join(f"\n  {x!r}\n  {y!r}" for x, y in zip(a, b) if x != y)[:600])
    md_run2, _, _ = report("--run", "--mode", "numeric", "--mode", "as_designed", path("rope.tt"), out=path("r_run2"))
    check("### as_designed Mode" in md_run2 and "### numeric Mode (primary)" in md_run2, "--run: two modes")

    # --- --compare: before (rope) and after (correct engine)
    md, tsv, html = report("--compare", path("rope.json"), path("ok.json"), out=path("r_cmp"))
    cols = tsv.split("\n")[0].split("\t")
    check(cols == ["row", "layer", "stage", "before_verdict", "after_verdict", "before_rel_l2", "after_rel_l2",
                   "before_pairs", "after_pairs", "change"], f"compare: TSV columns {cols}")
    rows = [dict(zip(cols, ln.split("\t"))) for ln in tsv.strip().split("\n")[1:]]
    before = expected_cells(J["rope"])
    nfixed = sum(1 for v in before.values() if v[0] in ("MISMATCH", "MISSING"))
    check(sum(r["change"] == "fixed" for r in rows) == nfixed, f"compare: {nfixed} cells fixed")
    check(not any(r["change"] in ("new", "still_failing") for r in rows), "compare: nothing new or still failing")
    check(f"{nfixed} fixed, 0 new failures, 0 still failing" in md, "compare: summary sentence")
    check('id="heatmap-before"' in html and 'id="heatmap-after"' in html, "compare: two heat maps")

    # --- hostile strings: markup, pipes, tabs in point and prompt names
    evil_prompt = 'p0|<script>alert(1)</script>\tx'
    evil_point = 'q_<b id="pwned">post</b>|rope'

    def poison(x):
        if isinstance(x, dict):
            return {k: poison(v) for k, v in x.items()}
        if isinstance(x, list):
            return [poison(v) for v in x]
        if isinstance(x, str):
            return x.replace("p0_short", evil_prompt).replace("q_post_rope", evil_point)
        return x
    evil = poison(J["rope"])
    evil["left"]["meta"]["model"] = "<img src=x onerror=alert(2)>`|`"
    with open(path("evil.json"), "w") as f:
        json.dump(evil, f)
    md, tsv, html = report(path("evil.json"), "--title", "<i>title</i> | x", out=path("r_evil"))
    check("<script>alert" not in html and '<b id="pwned">' not in html and "<img src=x" not in html,
          "escape: no raw markup from the input in the HTML")
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b id=&quot;pwned&quot;&gt;" in html,
          "escape: the input's markup shown as text in the HTML")
    check(html.count("<script") == 1, "escape: one script element (the page's own)")
    check("<i>title</i>" not in html and "&lt;i&gt;title&lt;/i&gt;" in html, "escape: the title")
    check(not re.search(r"(?<!\\)<(script|b |img)", md), "escape: no raw markup in the Markdown")
    check(tables_well_formed(md), "escape: Markdown tables keep their columns with '|' in names")
    check("\\<script>alert(1)\\</script>" in md, "escape: markup shown escaped in the Markdown")
    check(all(ln.count("\t") == len(TSV_COLUMNS) - 1 for ln in tsv.rstrip("\n").split("\n")),
          "escape: a tab in a prompt id does not shift TSV columns")
    check("p0|<script>alert(1)</script>\\tx" in tsv, "escape: the tab written as \\t in the TSV")
    for s in re.findall(r"```json\n(.*?)\n```", md, re.S):
        check("<" not in s and "`" not in s, f"escape: snippet JSON carries no raw < or `: {s[:60]}")

    # --- bad inputs: exit 2 and a message naming the file
    bad = {
        "notjson.json": "hello, this is not JSON\n",
        "empty.json": "",
        "other.json": json.dumps({"a": 1}),
        "array.json": "[1, 2, 3]",
        "version.json": json.dumps(dict(J["ok"], schema="tensortrace.diff/2")),
        "truncated.json": json.dumps(J["ok"])[:5000],
        "badfield.json": json.dumps(dict(J["ok"], pairs=[dict(J["ok"]["pairs"][0], layer="x")] + J["ok"]["pairs"][1:])),
        "badindex.json": json.dumps(dict(J["rope"], chain=[999999])),
    }
    want = {"notjson.json": "not JSON", "empty.json": "empty", "other.json": "not a tracediff result",
            "array.json": "not a tracediff result", "version.json": "tensortrace.diff/2",
            "truncated.json": "not JSON", "badfield.json": "pairs[0].layer",
            "badindex.json": "chain[0]: pair 999999 out of range"}
    for name, text in bad.items():
        with open(path(name), "w") as f:
            f.write(text)
        p = run(TRACEREPORT, path(name), "-o", path("r_bad"))
        check(p.returncode == 2 and path(name) in p.stderr and want[name] in p.stderr,
              f"bad input {name}: exit {p.returncode}, stderr {p.stderr.strip()!r}")
    p = run(TRACEREPORT, path("missing.json"), "-o", path("r_bad"))
    check(p.returncode == 2 and path("missing.json") in p.stderr, f"missing file: {p.returncode} {p.stderr!r}")
    check(not os.path.exists(path("r_bad")), "bad inputs: no output directory made")
    # usage errors
    for args, what in [([path("ok.json")], "-o"), (["--compare", path("ok.json"), "-o", path("x")], "exactly two"),
                       (["--left", "phase=decode0", path("ok.json"), "-o", path("x")], "--run"),
                       (["--run", "--mode", "bogus", path("ok.tt"), "-o", path("x")], "bogus")]:
        p = run(TRACEREPORT, *args)
        check(p.returncode == 2 and what in p.stderr, f"usage {args}: {p.returncode} {p.stderr!r}")
    p = run(TRACEREPORT, "--run", path("missing.tt"), "-o", path("x"))
    check(p.returncode == 2 and path("missing.tt") in p.stderr, f"--run missing trace: {p.returncode} {p.stderr!r}")
    # an output that cannot be written: exit 3 naming it
    with open(path("afile"), "w") as f:
        f.write("x")
    p = run(TRACEREPORT, path("ok.json"), "-o", path("afile", "sub"))
    check(p.returncode == 3 and path("afile") in p.stderr, f"unwritable output: {p.returncode} {p.stderr!r}")
    # help and version
    p = run(TRACEREPORT, "--help")
    check(p.returncode == 0 and "usage: tracereport" in p.stdout and "--compare" in p.stdout, "--help")
    p = run(TRACEREPORT, "--version")
    check(p.returncode == 0 and "tracereport (tensortrace)" in p.stdout, "--version")

    return check.summary()


sys.exit(main())
