#!/usr/bin/python3
"""report.html in a real browser: headless Chromium (Debian's `chromium`) opens the page from disk, with no
network, and takes a screenshot, which must not be blank (many colours, a good share of non-background pixels,
the saturated colours of the heat map); its DOM (--dump-dom, after layout and the page's script) must hold one
heat-map cell per layer x stage cell of the diff (rect.cell in svg#heatmap, with the right verdicts), the
first-failure cell and its visible marker, the growth chart, histogram and chain; a kv_aligned report its KV check
table; a comparison its two heat maps; and a report of hostile input no element injected by the input.

Exit 77 (skipped) only when no Chromium can be found: scripts/deps.sh installs it for the test suite.
usage: test_report_html.py TINYLM TRACEDIFF TRACEREPORT OUTDIR
"""
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import png_zlib as png  # noqa: E402

TINYLM, TRACEDIFF, TRACEREPORT, OUT = sys.argv[1:5]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--mute-audio"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import check  # noqa: E402


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def run(*args, expect=0):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    if expect is not None and p.returncode != expect:
        print(f"command {' '.join(args)}: exit {p.returncode}, expected {expect}\n{p.stderr[-2000:]}")
    return p


class Dom(html.parser.HTMLParser):
    """Collects every element with its attributes, its ancestors' ids and its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elems, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        e = {"tag": tag, "attrs": dict(attrs), "text": "", "in": [s["attrs"].get("id") for s in self.stack]}
        self.elems.append(e)
        if tag not in ("meta", "br", "line", "circle", "path", "stop", "input", "img", "link"):
            self.stack.append(e)

    def handle_startendtag(self, tag, attrs):
        self.elems.append({"tag": tag, "attrs": dict(attrs), "text": "",
                           "in": [s["attrs"].get("id") for s in self.stack]})

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for s in self.stack:
            s["text"] += data


def dom_of(chromium, page, profile):
    p = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", "file://" + page],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and "</html>" in p.stdout, f"chromium --dump-dom {page}: exit {p.returncode}")
    d = Dom()
    d.feed(p.stdout)
    return d.elems


def classes(e):
    return e["attrs"].get("class", "").split()


def cells_of(elems, svg_id):
    return [e for e in elems if e["tag"] == "rect" and "cell" in classes(e) and svg_id in e["in"]]


def check_heatmap(elems, d, svg_id, name):
    svg = [e for e in elems if e["tag"] == "svg" and e["attrs"].get("id") == svg_id]
    check(len(svg) == 1, f"{name}: one svg#{svg_id}")
    cells = cells_of(elems, svg_id)
    want = {}
    sev = {"MATCH": 0, "WITHIN_TOL": 1, "MISSING": 2, "MISMATCH": 3}
    for p in d["pairs"]:
        k = (p["layer"], p["point"])
        if k not in want or sev[p["verdict"]] > sev[want[k]]:
            want[k] = p["verdict"]
    layers = {p["layer"] for p in d["pairs"]}
    stages = {p["point"] for p in d["pairs"]}
    check(len(cells) == len(want), f"{name}: {len(cells)} heat-map cells for {len(want)} layer x stage cells "
                                   f"({len(layers)} layer rows x {len(stages)} stages present)")
    got = {(int(c["attrs"]["data-layer"]), c["attrs"]["data-stage"]): c["attrs"]["data-verdict"] for c in cells}
    check(got == want, f"{name}: every cell's data-layer/data-stage/data-verdict as in the JSON")
    ff = d["first_failure"]
    marked = [c for c in cells if "first-failure" in classes(c)]
    if ff:
        check(len(marked) == 1 and (int(marked[0]["attrs"]["data-layer"]), marked[0]["attrs"]["data-stage"]) ==
              (ff["layer"], ff["point"]), f"{name}: the first-failure cell is {ff['point']} L{ff['layer']}")
        suffix = svg_id[len("heatmap"):]
        marker = [e for e in elems if e["attrs"].get("id") == "first-failure-marker" + suffix]
        check(len(marker) == 1 and "FIRST FAILURE" in marker[0]["text"] and ff["point"] in marker[0]["text"],
              f"{name}: visible first-failure marker naming {ff['point']}")
    else:
        check(not marked, f"{name}: no first-failure cell")
    return cells


def check_screenshot(chromium, page, shot, profile):
    p = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1400,1800", "file://" + page], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and os.path.exists(shot), f"chromium --screenshot: exit {p.returncode}")
    if not os.path.exists(shot):
        return
    w, h, ch, rows = png.read(shot)
    check((w, h) == (1400, 1800), f"screenshot size {w}x{h}")
    counts = {}
    saturated = 0
    for r, g, b in png.pixels(w, h, ch, rows, step=2):
        counts[(r, g, b)] = counts.get((r, g, b), 0) + 1
        if max(r, g, b) - min(r, g, b) > 90:
            saturated += 1
    total = sum(counts.values())
    background = max(counts.values())
    fg = 1 - background / total
    print(f"screenshot: {len(counts)} distinct colours, {100 * fg:.1f}% non-background, "
          f"{100 * saturated / total:.2f}% saturated pixels")
    check(len(counts) >= 64, f"screenshot has {len(counts)} distinct colours (blank page?)")
    check(fg >= 0.08, f"screenshot is {100 * fg:.1f}% non-background (blank page?)")
    check(saturated / total >= 0.005, f"screenshot has {100 * saturated / total:.2f}% saturated pixels (no heat map?)")


def main():
    chromium = find_chromium()
    if not chromium:
        print("SKIP: no chromium found (install Debian's chromium: scripts/deps.sh test)")
        return 77
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    out = lambda *a: os.path.join(OUT, *a)  # noqa: E731
    run(TINYLM, "-q", "-o", out("rope.tt"), "--bug", "rope-pos")
    run(TINYLM, "-q", "-o", out("kvo.tt"), "--bug", "kv-offset")
    run(TINYLM, "-q", "-o", out("ok.tt"))
    run(TRACEDIFF, "-q", out("rope.tt"), "--json", out("rope.json"), expect=1)
    run(TRACEDIFF, "-q", out("kvo.tt"), "--mode", "kv_aligned", "--json", out("kvo.json"), expect=1)
    run(TRACEDIFF, "-q", out("ok.tt"), "--json", out("ok.json"), expect=0)
    for args, d in [([out("rope.json")], "r_rope"), ([out("kvo.json")], "r_kvo"),
                    (["--compare", out("rope.json"), out("ok.json")], "r_cmp")]:
        run(TRACEREPORT, *args, "-o", out(d))
    J = {n: json.load(open(out(n + ".json"))) for n in ("rope", "kvo", "ok")}
    # the hostile report: markup in a prompt id and a point name
    evil = json.loads(json.dumps(J["rope"]).replace("p0_short", 'p0<img src=x id=pwned onerror=alert(1)>')
                      .replace("q_post_rope", 'q<script id=pwned2>alert(2)</script>'))
    with open(out("evil.json"), "w") as f:
        json.dump(evil, f)
    run(TRACEREPORT, out("evil.json"), "-o", out("r_evil"))

    profile = tempfile.mkdtemp(prefix="tracereport-chromium-")
    try:
        page = os.path.abspath(out("r_rope", "report.html"))
        check_screenshot(chromium, page, os.path.abspath(out("report.png")), profile)
        elems = dom_of(chromium, page, profile)
        check_heatmap(elems, J["rope"], "heatmap", "rope")
        for fig in ("growth", "histogram", "counts", "chain"):
            check(any(e["attrs"].get("id") == fig for e in elems), f"rope: #{fig} present")
        check(len([e for e in elems if e["tag"] == "div" and "box" in classes(e) and "chain" in e["in"]]) >= 2,
              "rope: the chain has boxes")
        check(any(e["tag"] == "table" and "worst" in e["text"].lower() or
                  e["tag"] == "h4" and "Worst Elements" in e["text"] for e in elems), "rope: worst elements")

        elems = dom_of(chromium, os.path.abspath(out("r_kvo", "report.html")), profile)
        check_heatmap(elems, J["kvo"], "heatmap", "kvo")
        kvrows = [e for e in elems if e["tag"] == "tr" and "cache_write" in e["text"] and "fail" in e["text"]]
        check(len(kvrows) >= 1, "kvo: KV check table with failing cache_write rows")

        elems = dom_of(chromium, os.path.abspath(out("r_cmp", "report.html")), profile)
        check_heatmap(elems, J["rope"], "heatmap-before", "compare/before")
        cells = check_heatmap(elems, J["ok"], "heatmap-after", "compare/after")
        check(any(c["attrs"].get("data-change") == "fixed" for c in cells), "compare: cells marked fixed")

        elems = dom_of(chromium, os.path.abspath(out("r_evil", "report.html")), profile)
        check(not any(e["attrs"].get("id") in ("pwned", "pwned2") for e in elems),
              "evil: no element injected by the input")
        check(len([e for e in elems if e["tag"] == "script"]) == 1, "evil: only the page's own script")
        check(len([e for e in elems if e["tag"] == "img"]) == 0, "evil: no img element")
        check_heatmap(elems, evil, "heatmap", "evil")
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return check.summary()


sys.exit(main())
