"""A static site of the notebooks, to read offline: ``python -m dmlib book [--out DIR] [NB ...]`` (``make book``).

The site, by default ``book/`` at the repository root, holds ``index.html`` (the table of contents, one
entry per notebook titled by its first markdown heading, and the README's ``## Results`` section), one
page per notebook (``00_start_here.html``, ...; previous / index / next links at the top and bottom),
and ``mathjax/``, a copy of MathJax 2 (from the ``jupyter-server-mathjax`` package, installed by
``make book`` from ``requirements-book.txt``) that typesets the ``$...$`` and ``$$...$$`` math.
The pages show the committed outputs, plots embedded as ``data:`` images; nothing is executed. No page
loads anything from the internet (no CDN script, style sheet or font), so the folder can be opened from
a USB stick through ``file://``; :func:`offline_problems` checks that, and the build fails when it finds
a reference to the internet or to a missing file.

Why nbconvert: it is already a dependency (JupyterLab and the runner use it), it renders the notebooks
exactly as JupyterLab shows them, and one template override removes its CDN links. Jupyter Book or
Sphinx (with myst-nb) would add dozens of packages, a configuration and table-of-contents file of their
own, and pages that differ from what a student sees in JupyterLab.

Example:
    >>> from dmlib.runner import ROOT, find_notebooks
    >>> report = build_book(find_notebooks(), ROOT / "book", readme=ROOT / "README.md")  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import html
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from dmlib.kit import MB, ROOT, _size, prepare_folder

MARKER = ".dmlib-book"
"""A file in every site folder: only a folder holding it is ever emptied (to build the site again)."""
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
"""Where the pages load MathJax from, relative to the site (the one combined configuration the package ships)."""
_MATHJAX_SKIPPED = ("jax/output/SVG",)
"""Parts of MathJax the pages never load (the SVG renderer: the pages hide the menu that selects it)."""
_FETCHING = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src", "embed": "src",
             "object": "data", "audio": "src", "video": "src"}
"""Tags whose attribute makes the browser load something when the page opens (an ``<a href>`` does not)."""
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])(https?:)?//""", re.IGNORECASE)
_NOTEBOOK_LINK = re.compile(r'href="(?:\.\./)?(?:notebooks/)?(\d\d_[\w.-]+)\.ipynb(#[^"]*)?"')

# In place of nbconvert's MathJax block, whose configuration is for the CommonHTML renderer (absent from
# jupyter-server-mathjax): the HTML-CSS renderer with the STIX-Web fonts it ships, as Jupyter's classic
# notebook configured it; the menu entries that would load the renderers and languages left out are hidden.
_MATHJAX = """<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
            processEscapes: true, processEnvironments: true},
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               linebreaks: {automatic: true}},
  MathMenu: {showRenderer: false, showLocale: false},
  displayAlign: "center", messageStyle: "none"
});
</script>
<script src="{url}"></script>"""
_NAV_CSS = """<style>
nav.book { display: flex; justify-content: space-between; gap: 1em; margin: 0 0 1em; padding: 0.5em 1em;
           background: #f5f5f5; border: 1px solid #ddd; font: 14px/1.4 sans-serif; }
nav.book a { color: #1565c0; text-decoration: none; }
nav.book a:hover { text-decoration: underline; }
</style>"""
# nbconvert's JupyterLab template, without what it loads from CDNs (require.js, the widget manager,
# mermaid.js, MathJax), with the local MathJax and the previous / index / next links.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}{{ resources.book_mathjax }}{%- endblock html_head_js_mathjax -%}
{%- block extra_css -%}{{ resources.book_css }}{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.book_nav }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.book_nav }}{{ super() }}{%- endblock body_footer -%}
"""
_INDEX_CSS = """<style>
body { font: 16px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #222;
       max-width: 70em; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code { font-size: 90%; background: #f6f6f6; padding: 0 0.2em; }
ul.toc { list-style: none; padding-left: 0; }
ul.toc li { margin: 0.3em 0; }
a { color: #1565c0; }
a.anchor-link { display: none; }
</style>"""


class BookError(ValueError):
    """No notebooks, no README or no MathJax, an unreadable notebook, a refused output folder, or a page
    that would load something from the internet or refer to a missing file."""


@dataclass(frozen=True)
class BookReport:
    """What :func:`build_book` wrote.

    Attributes:
        out: the site folder.
        pages: the notebook pages, in order (``index.html`` is beside them).
        total_bytes: the size of the whole site.
        mathjax_bytes: the size of its ``mathjax/`` folder.
        seconds: how long the build took.
    """

    out: Path
    pages: list[Path]
    total_bytes: int
    mathjax_bytes: int
    seconds: float

    def summary(self) -> str:
        """The report in a few lines, as ``python -m dmlib book`` prints it."""
        return (f"Site written to {self.out} in {self.seconds:.1f} s: index.html and {len(self.pages)} notebook "
                f"page{'s' * (len(self.pages) != 1)}, {self.total_bytes / MB:.1f} MB in all "
                f"(MathJax {self.mathjax_bytes / MB:.1f} MB; MB = 10^6 bytes).\n"
                f"Open {self.out / 'index.html'} in a browser; it needs no internet.")


def title(nb: nbformat.NotebookNode, default: str) -> str:
    """The notebook's first markdown heading, without its ``#`` marks; ``default`` when it has none.

    Example:
        >>> from nbformat.v4 import new_markdown_cell, new_notebook
        >>> title(new_notebook(cells=[new_markdown_cell("Intro\\n## 00 · Start here")]), "00_start_here")
        '00 · Start here'
    """
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            for line in cell.get("source", "").splitlines():
                if re.match(r"#{1,6}\s", line):
                    return line.lstrip("#").strip()
    return default


def results_section(readme: str) -> str:
    """The README's ``## Results`` section (up to the next heading of level 1 or 2), as Markdown; else
    the text between its ``<!-- results:start`` and ``<!-- results:end -->`` markers; else ``""``."""
    lines = readme.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"##\s+Results\s*$", line)), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"#{1,2}\s", lines[i])), len(lines))
        return "\n".join(lines[start:end])
    marked = re.search(r"<!-- results:start.*?-->(.*?)<!-- results:end -->", readme, re.DOTALL)
    return f"## Results\n{marked.group(1)}" if marked else ""


def _local_links(page: str, names: set[str]) -> str:
    """Links to a notebook of the site (``notebooks/02_cnn_images.ipynb``) pointed at its page."""
    return _NOTEBOOK_LINK.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"'
                              if m.group(1) in names else m.group(0), page)


def _nav(pages: list[tuple[str, str]], i: int) -> str:
    """The previous / index / next links of page ``i`` of ``pages`` (file name, title)."""
    def link(j: int, arrow: str) -> str:
        if not 0 <= j < len(pages):
            return "<span></span>"
        name, text = pages[j]
        return f'<a href="{name}">{arrow} {html.escape(text)}</a>' if arrow == "←" else \
            f'<a href="{name}">{html.escape(text)} {arrow}</a>'
    return f'<nav class="book">{link(i - 1, "←")}<a href="index.html">Contents</a>{link(i + 1, "→")}</nav>'


def _index(readme_title: str, pages: list[tuple[str, str]], results_html: str, mathjax: str) -> str:
    """The text of index.html."""
    toc = "\n".join(f'<li><a href="{name}">{html.escape(text)}</a></li>' for name, text in pages)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
            f"<title>{html.escape(readme_title)}</title>\n{_INDEX_CSS}\n{mathjax}\n</head>\n<body>\n<main>\n"
            f"<h1>{html.escape(readme_title)}</h1>\n"
            "<p>The notebooks with the outputs of their committed run (nothing was re-run to build this site). "
            "It reads offline: open it from a folder or a USB stick.</p>\n"
            f'<h2>Notebooks</h2>\n<ul class="toc">\n{toc}\n</ul>\n{results_html}\n</main>\n</body>\n</html>\n')


class _Refs(HTMLParser):
    """The references of a page: (tag, attribute, value) of every ``src``, ``href`` and ``data``."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [(tag, name, value) for name, value in attrs if name in ("src", "href", "data") and value]


def offline_problems(out: Path) -> list[str]:
    """What would stop the site in ``out`` from reading offline: every page's reference that makes the
    browser load something from the internet (a ``<script src>``, ``<link href>``, ``<img src>``, ...,
    or a ``url(...)``/``@import`` in a style sheet, pointing at ``http(s)://`` or ``//``), and every
    relative reference (``<a href>`` included) to a file that does not exist; ``[]`` when none.

    Example:
        >>> offline_problems(Path("book"))  # doctest: +SKIP
        []
    """
    problems = []
    for page in sorted(Path(out).rglob("*.html")):
        if "mathjax" in page.relative_to(out).parts:
            continue
        text = page.read_text(encoding="utf-8")
        parser = _Refs()
        parser.feed(text)
        for tag, attr, value in parser.refs:
            if re.match(r"(https?:)?//", value, re.IGNORECASE):
                if _FETCHING.get(tag) == attr:
                    problems.append(f"{page.name}: <{tag} {attr}={value!r}> loads from the internet")
            elif not re.match(r"[a-z][a-z0-9+.-]*:|#", value, re.IGNORECASE):  # data:, mailto:, anchors
                target = value.split("#")[0].split("?")[0]
                if target and not (page.parent / target).exists():
                    problems.append(f"{page.name}: <{tag} {attr}={value!r}> refers to a missing file")
        problems += [f"{page.name}: a style sheet loads {m.group(0)!r}... from the internet"
                     for m in _CSS_URL.finditer(text)]
    return problems


def mathjax_folder() -> Path:
    """The MathJax 2 folder of the ``jupyter-server-mathjax`` package (``MathJax.js``, ``config/``, ...)."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise BookError("MathJax is not installed: run `make book` (it installs requirements-book.txt into "
                        ".venv), or `.venv/bin/pip install -r requirements-book.txt`") from None
    return Path(jupyter_server_mathjax.__file__).resolve().parent / "static"


def _copy_mathjax(source: Path, dest: Path) -> None:
    """Copy MathJax without the renderer the pages never load and without its translations but English."""
    def ignore(folder: str, names: list[str]) -> list[str]:
        here = Path(folder).relative_to(source)
        return [n for n in names if (here / n).as_posix() in _MATHJAX_SKIPPED or n == "__pycache__"
                or (here.as_posix() == "localization" and n != "en")]

    shutil.copytree(source, dest, ignore=ignore)


def build_book(notebooks: Sequence[Path], out: Path, *, readme: Path, mathjax: Path | None = None,
               root: Path | None = None) -> BookReport:
    """Write the static site of ``notebooks`` (their committed outputs; nothing is run) into ``out``.

    ``out`` is created when missing; an earlier site there (a folder holding the ``.dmlib-book`` file) is
    replaced; any other non-empty folder is refused. Every notebook is read before anything is written.

    Args:
        notebooks: the notebooks, in the order of the table of contents, e.g. ``runner.find_notebooks()``.
        out: the site folder, e.g. ``book/`` at the repository root.
        readme: the README (Markdown) whose title and ``## Results`` section the index shows.
        mathjax: the MathJax 2 folder to copy (default: :func:`mathjax_folder`).
        root: the repository, whose ``notebooks/`` and ``results/`` are refused as ``out`` (default: this one).

    Returns:
        The report: pages, sizes, time taken.

    Raises:
        BookError: (a ``ValueError``) for no notebooks, a missing README or one without a results section,
            no MathJax, an unreadable notebook, a refused ``out``, or a page that
            :func:`offline_problems` finds fault with.
        OSError: when ``out`` cannot be written.
    """
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    from jinja2 import DictLoader

    start = time.perf_counter()
    if not notebooks:
        raise BookError("no notebooks to put in the site: give notebook files, or run it in the repository, "
                        "whose notebooks/ folder holds them (00_start_here.ipynb, ...)")
    readme = Path(readme)
    if not readme.is_file():
        raise BookError(f"{readme} not found: the site's index shows the README's title and results section; "
                        "build the site from a checkout of the repository (README.md at its root)")
    text = readme.read_text(encoding="utf-8")
    results = results_section(text)
    if not results:
        raise BookError(f"{readme} has no `## Results` section (nor the `<!-- results:start -->` markers that "
                        "`python -m dmlib report` writes): add one, e.g. with `make report`")
    mathjax = Path(mathjax) if mathjax is not None else mathjax_folder()
    if not (mathjax / "MathJax.js").is_file():
        raise BookError(f"{mathjax} holds no MathJax.js: reinstall jupyter-server-mathjax "
                        "(`.venv/bin/pip install --force-reinstall -r requirements-book.txt`)")
    books = []
    for path in map(Path, notebooks):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as err:  # OSError, NotJSONError, a validation error: all "cannot read"
            raise BookError(f"cannot read the notebook {path}: {type(err).__name__}: {err}") from None
        books.append((path.stem, nb))
    pages = [(f"{stem}.html", title(nb, stem)) for stem, nb in books]
    names = {stem for stem, _ in books}

    out = Path(out).expanduser().resolve()
    prepare_folder(out, Path(root or ROOT).resolve(), what="site", marker=MARKER, default="book/", error=BookError,
                   note="dmlib static site (python -m dmlib book); open index.html\n")
    _copy_mathjax(mathjax, out / "mathjax")
    script = _MATHJAX.replace("{url}", MATHJAX_URL)
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"book.html.j2": _TEMPLATE})],
                            template_file="book.html.j2", embed_images=True)
    for i, (stem, nb) in enumerate(books):
        body, _ = exporter.from_notebook_node(nb, resources={
            "metadata": {"name": pages[i][1]}, "book_mathjax": script, "book_css": _NAV_CSS,
            "book_nav": _nav(pages, i)})
        (out / pages[i][0]).write_text(_local_links(body, names), encoding="utf-8")
    readme_title = next((line.lstrip("#").strip() for line in text.splitlines() if re.match(r"#\s", line)),
                        "The notebooks")
    index = _index(readme_title, pages, markdown2html_mistune(results), script)
    (out / "index.html").write_text(_local_links(index, names), encoding="utf-8")
    problems = offline_problems(out)
    if problems:
        raise BookError(f"the site in {out} would not read offline:\n  " + "\n  ".join(problems))
    return BookReport(out=out, pages=[out / name for name, _ in pages], total_bytes=_size(out),
                      mathjax_bytes=_size(out / "mathjax"), seconds=time.perf_counter() - start)
