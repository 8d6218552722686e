"""The static site (dmlib.book, `make book`): built from two real notebooks (00, and 02 with its math and
plots) into a temporary folder; offline, with the pages linked and MathJax local. With chromium on PATH,
each page is also opened in a headless browser: math typeset, no missing file, no script error, and
a screenshot per kind of page."""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from dmlib import book, cli
from dmlib.runner import NOTEBOOKS, ROOT

NBS = [NOTEBOOKS / "00_start_here.ipynb", NOTEBOOKS / "02_cnn_images.ipynb"]
REAL_MATHJAX = importlib.util.find_spec("jupyter_server_mathjax") is not None
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
README = ("# A workbook\n\nIntro.\n\n## Results\n\n| notebook | metric |\n|---|---|\n| 00 | `acc` |\n\n"
          "## Speed\n\nfast\n")


def _stub_mathjax(folder: Path) -> Path:
    """A stand-in for jupyter-server-mathjax's MathJax folder (CI need not have requirements-book.txt)."""
    (folder / "config").mkdir(parents=True)
    (folder / "MathJax.js").write_text("/* stand-in */\n", encoding="utf-8")
    (folder / "config" / "TeX-AMS-MML_HTMLorMML-full.js").write_text("/* stand-in */\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def mathjax(tmp_path_factory) -> Path:
    """The real MathJax when `make book` installed it, else a stand-in."""
    return book.mathjax_folder() if REAL_MATHJAX else _stub_mathjax(tmp_path_factory.mktemp("mathjax"))


@pytest.fixture(scope="module")
def site(tmp_path_factory, mathjax) -> book.BookReport:
    return book.build_book(NBS, tmp_path_factory.mktemp("site") / "book", readme=ROOT / "README.md", mathjax=mathjax)


def _links(page: Path) -> list[str]:
    return re.findall(r'<a href="([^"#]+)"', page.read_text(encoding="utf-8"))


def test_index_lists_every_notebook_with_its_title_and_the_results(site):
    index = (site.out / "index.html").read_text(encoding="utf-8")
    toc = re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', index)
    assert [name for name, _ in toc] == ["00_start_here.html", "02_cnn_images.html"]
    for (name, text), path in zip(toc, NBS):
        assert (site.out / name).is_file()
        assert html.unescape(text) == book.title(nbformat.read(path, as_version=4), path.stem)
    assert text.startswith("02 · Convolutional networks")
    assert "first_model_test_accuracy" in index and "<table>" in index  # the README's results table, rendered
    assert site.pages == [site.out / "00_start_here.html", site.out / "02_cnn_images.html"]


def test_pages_link_to_their_neighbours_and_back_to_the_index(site):
    first, second = (site.out / n for n in ("00_start_here.html", "02_cnn_images.html"))
    assert _links(first).count("index.html") == 2 and "02_cnn_images.html" in _links(first)
    assert "00_start_here.html" in _links(second) and "index.html" in _links(second)
    for page in [site.out / "index.html", first, second]:
        assert all((site.out / link).is_file() for link in _links(page) if "://" not in link)


def test_nothing_is_loaded_from_the_internet(site):
    assert book.offline_problems(site.out) == []
    for page in site.out.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", text, re.IGNORECASE)
        assert tags and not [t for t in tags if re.search(r"""(src|href)=["']?(https?:)?//""", t, re.IGNORECASE)]
        assert "cdnjs" not in text and "require.js" not in text and "unpkg" not in text


def test_mathjax_is_local_and_images_embedded(site):
    for page in [site.out / "index.html", *site.pages]:
        src = re.findall(r'<script src="([^"]*MathJax\.js[^"]*)"', page.read_text(encoding="utf-8"))
        assert src == [book.MATHJAX_URL]
        assert (page.parent / src[0].split("?")[0]).is_file()
    assert (site.out / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    if REAL_MATHJAX:
        assert (site.out / "mathjax" / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").is_dir()
        assert not (site.out / "mathjax" / "jax" / "output" / "SVG").exists()
        assert 1_000_000 < site.mathjax_bytes < 10_000_000
    text = site.pages[1].read_text(encoding="utf-8")
    nb = nbformat.read(NBS[1], as_version=4)
    pngs = sum("image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code" for out in c.outputs)
    assert pngs >= 5 and text.count('src="data:image/png;base64,') >= pngs
    assert "$$" in text  # the math reaches the page as TeX, for MathJax
    assert site.total_bytes > site.mathjax_bytes > 0 and site.seconds > 0
    assert "MB" in site.summary() and " s:" in site.summary()


def test_offline_problems_finds_internet_loads_and_missing_files(tmp_path):
    (tmp_path / "here.png").write_bytes(b"png")
    (tmp_path / "p.html").write_text(
        '<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//cdn.example/x.css">'
        '<img src="here.png"><img src="gone.png?x=1"><a href="https://example.org">fine</a><a href="#top">ok</a>'
        '<a href="other.html#s">other</a><img src="data:image/png;base64,AA==">'
        '<style>@import "https://f.example/a.css";</style>', encoding="utf-8")
    problems = book.offline_problems(tmp_path)
    assert len(problems) == 5, problems
    assert "x.js" in problems[0] and "internet" in problems[0] and "//cdn.example/x.css" in problems[1]
    assert "gone.png" in problems[2] and "other.html" in problems[3] and "style sheet" in problems[4]


def test_title_and_results_section():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# not a heading"),
                                         nbformat.v4.new_markdown_cell("text\n### 03 · Time `series`")])
    assert book.title(nb, "x") == "03 · Time `series`"
    assert book.title(nbformat.v4.new_notebook(), "04_text") == "04_text"
    assert book.results_section(README) == "## Results\n\n| notebook | metric |\n|---|---|\n| 00 | `acc` |\n"
    marked = "# T\n<!-- results:start (generated) -->\n| a |\n|---|\n<!-- results:end -->\n"
    assert book.results_section(marked) == "## Results\n\n| a |\n|---|\n"
    assert book.results_section("# T\nno results\n") == ""


def test_bad_input_gets_a_clear_error(tmp_path, mathjax):
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    out = tmp_path / "site"
    with pytest.raises(book.BookError, match="no notebooks"):
        book.build_book([], out, readme=readme, mathjax=mathjax)
    with pytest.raises(book.BookError, match="README.md not found: .*checkout of the repository"):
        book.build_book(NBS[:1], out, readme=tmp_path / "nope" / "README.md", mathjax=mathjax)
    (tmp_path / "R2.md").write_text("# T\n\nno results here\n", encoding="utf-8")
    with pytest.raises(book.BookError, match="no `## Results` section"):
        book.build_book(NBS[:1], out, readme=tmp_path / "R2.md", mathjax=mathjax)
    broken = tmp_path / "01_broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(book.BookError, match="cannot read the notebook .*01_broken.ipynb"):
        book.build_book([NBS[0], broken], out, readme=readme, mathjax=mathjax)
    with pytest.raises(book.BookError, match="holds no MathJax.js"):
        book.build_book(NBS[:1], out, readme=readme, mathjax=tmp_path)
    assert not out.exists() or not (out / "00_start_here.html").exists()


def test_refuses_foreign_folders_and_rebuilds_its_own(tmp_path, mathjax):
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    with pytest.raises(book.BookError, match="inside the repository.s notebooks/ folder"):
        book.build_book(NBS[:1], NOTEBOOKS / "site", readme=readme, mathjax=mathjax)
    assert not (NOTEBOOKS / "site").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep", encoding="utf-8")
    with pytest.raises(book.BookError, match="not empty and holds no earlier site"):
        book.build_book(NBS[:1], foreign, readme=readme, mathjax=mathjax)
    assert (foreign / "thesis.tex").read_text(encoding="utf-8") == "keep"
    out = tmp_path / "site"
    book.build_book(NBS[:1], out, readme=readme, mathjax=mathjax)
    (out / "stale.html").write_text("old", encoding="utf-8")
    report = book.build_book(NBS[:1], out, readme=readme, mathjax=mathjax)
    assert not (out / "stale.html").exists() and report.pages == [out / "00_start_here.html"]
    assert "A workbook" in (out / "index.html").read_text(encoding="utf-8")


def test_command_line_prints_time_and_size(tmp_path, mathjax, monkeypatch, capsys):
    monkeypatch.setattr(book, "mathjax_folder", lambda: mathjax)
    assert cli.main(["book", "--out", str(tmp_path / "b"), "00"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"in \d+\.\d s: index.html and 1 notebook page, \d+\.\d MB in all", out)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("keep", encoding="utf-8")
    assert cli.main(["book", "--out", str(tmp_path / "x"), "00"]) == 1
    assert "error: refusing" in capsys.readouterr().err


# --------------------------------------------------------------------------- in a browser

# Logs, to the console, every file a page fails to load, every script error and MathJax's own errors
# (files, web fonts), and "typeset done" once MathJax has finished.
_PROBE = """<script>
window.addEventListener("error", function (e) {
  var t = e.target;
  console.error(t && t !== window ? "PROBLEM missing: " + (t.src || t.href) : "PROBLEM script: " + e.message);
}, true);
window.MathJax = {AuthorInit: function () {
  var report = function (m) {
    if (/(load|font|processing) error/i.test(String(m))) { console.error("PROBLEM mathjax: " + m); }
  };
  MathJax.Hub.signal.Interest(report);
  MathJax.Hub.Startup.signal.Interest(report);
  MathJax.Hub.Register.StartupHook("End", function () {
    MathJax.Hub.Queue(function () { console.log("MATHJAX typeset done"); });
  });
}};
</script>"""
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or not REAL_MATHJAX,
    reason="chromium is not on PATH: `apt-get install chromium` to run the browser tests" if CHROMIUM is None else
    "MathJax is not installed: `.venv/bin/pip install -r requirements-book.txt` (as `make book` does) to run the "
    "browser tests")


def _chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


@needs_browser
def test_pages_in_a_browser_typeset_math_and_load_every_file(site, tmp_path):
    for page in [site.out / "index.html", *site.pages]:
        probe = page.with_name(f"probe-{page.name}")  # beside the page, so its relative links still work
        probe.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
        try:
            done = _chromium(tmp_path, probe.as_uri(), "--dump-dom")
        finally:
            probe.unlink()
        console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
        problems = [line for line in console if "PROBLEM" in line or "Uncaught" in line
                    or ("blocked by CORS" in line and "'about:blank'" not in line)]  # MathJax's blank-font probe
        assert done.returncode == 0 and not problems, (page.name, problems)
        assert any("MATHJAX typeset done" in line for line in console), (page.name, console)
        assert "Math Processing Error" not in done.stdout and not re.search(r'class="(merror|noError)"', done.stdout)
        if page.name == "02_cnn_images.html":
            assert done.stdout.count('class="MathJax_Display"') >= 1 and done.stdout.count('class="MathJax"') >= 10


@needs_browser
def test_screenshots_are_not_blank(site, tmp_path):
    from PIL import Image

    for page in [site.out / "index.html", site.pages[1]]:
        png = tmp_path / f"{page.stem}.png"
        done = _chromium(tmp_path, page.as_uri(), f"--screenshot={png}", "--window-size=1200,900")
        assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
        with Image.open(png) as img:
            assert img.size == (1200, 900)
            assert len(img.convert("RGB").getcolors(1 << 24)) > 50  # text, links, tables: not one flat colour
