"""The offline install kit (`python -m dmlib kit`, `make kit`): wheels, verified data, INSTALL.md; offline."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from dmlib import cli, kit
from dmlib import datasets as ds

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: any attempt to reach an index fails at once


@pytest.fixture
def offline_pip(monkeypatch):
    """pip in child processes sees no configuration file, no find-links, and an index that cannot be reached."""
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", UNREACHABLE)
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")


def tiny_project(folder: Path, name: str, version: str = "1.0", requires: list[str] | None = None,
                 requirements: list[str] | None = None, extras: dict[str, list[str]] | None = None) -> Path:
    """A minimal setuptools project: one package ``name`` that says hello; a workbook-like
    ``requirements.txt`` and ``notebooks/`` + ``results/`` folders when ``requirements`` is given."""
    folder.mkdir(parents=True)
    deps = ", ".join(f'"{r}"' for r in requires or [])
    extra = "".join(f'{k} = [{", ".join(chr(34) + p + chr(34) for p in v)}]\n' for k, v in (extras or {}).items())
    (folder / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{deps}]\n\n'
        f'[project.optional-dependencies]\n{extra}\n[tool.setuptools]\npackages = ["{name}"]\n', encoding="utf-8")
    (folder / name).mkdir()
    (folder / name / "__init__.py").write_text(f'HELLO = "hello from {name} {version}"\n', encoding="utf-8")
    if requirements is not None:
        (folder / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements), encoding="utf-8")
        (folder / "notebooks").mkdir()
        (folder / "results").mkdir()
    return folder


def hand_wheel(project: Path, dest: Path) -> Path:
    """A minimal valid wheel of a :func:`tiny_project`, written with zipfile (when setuptools is absent)."""
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    name, version = re.search(r'name = "(\w+)"', text)[1], re.search(r'version = "([^"]+)"', text)[1]
    deps = re.findall(r'"([^"]+)"', re.search(r"dependencies = \[(.*)\]", text)[1])
    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": (project / name / "__init__.py").read_bytes(),
             f"{info}/METADATA": ("Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
                 name, version, "".join(f"Requires-Dist: {d}\n" for d in deps))).encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},"
                     f"{len(b)}\n" for p, b in files.items()) + f"{info}/RECORD,,\n"
    wheel = dest / f"{name}-{version}-py3-none-any.whl"
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as z:
        for p, b in {**files, f"{info}/RECORD": record.encode()}.items():
            z.writestr(p, b)
    return wheel


def make_wheel(project: Path, dest: Path) -> Path:
    """The project's wheel built by the kit's own builder (pip wheel --no-deps, offline), else by hand."""
    if importlib.util.find_spec("setuptools") is None:  # the builder would need the index for its backend
        return hand_wheel(project, dest)
    return kit.pip_wheel(project, dest)


class FakeDownload:
    """An offline ``download``: copies the given files into the wheelhouse, records every call, and
    fails for the requirement names in ``fail``."""

    def __init__(self, files: list[Path] | None = None, fail: tuple[str, ...] = ()):
        self.files, self.fail, self.calls = list(files or []), fail, []

    def __call__(self, args, dest: Path) -> None:
        self.calls.append(list(args))
        if any(re.split(r"[=<>!~ ]", a)[0] in self.fail for a in args):
            raise kit.KitError("pip download failed: no network")
        for f in self.files:
            shutil.copyfile(f, dest / f.name)


def fake_build(project: Path, dest: Path) -> Path:
    wheel = dest / "workbook-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK fake wheel")
    return wheel


@pytest.fixture
def workbook(tmp_path):
    """A tiny workbook: requirements.txt, pyproject.toml with jax and torch extras, notebooks/, results/."""
    return tiny_project(tmp_path / "workbook", "tinykit_book", requirements=["tinykit-dep==1.0"],
                        extras={"jax": ["jaxfake==0.1"], "torch": ["torchfake==2.0"]})


def files_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def fresh_venv(path: Path) -> tuple[Path, list[str]]:
    """A new virtual environment (``python -m venv``): its Python, and the pip command that installs into it
    (its own pip from ensurepip, which needs no network; else this pip with ``--python``)."""
    if importlib.util.find_spec("venv") is None:
        pytest.skip("`python -m venv` is unavailable: this Python has no venv module")
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    made = subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True)
    if made.returncode == 0:
        return python, [str(python), "-m", "pip"]
    shutil.rmtree(path, ignore_errors=True)  # e.g. Debian without python3-venv: no ensurepip
    bare = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], capture_output=True, text=True)
    if bare.returncode != 0:
        pytest.skip(f"`python -m venv` is unavailable here: {bare.stderr.strip()[-300:]}")
    return python, [sys.executable, "-m", "pip", "--python", str(python)]


# --------------------------------------------------------------------------- wheels, and an offline install


def test_the_kit_installs_into_a_fresh_venv_with_no_index(tmp_path, workbook, offline_pip):
    """Build a real wheel offline, let the injected download put it in the wheelhouse, build the kit, and
    install from it into a new venv with no index (an unreachable one, no pip configuration)."""
    dep = tiny_project(tmp_path / "dep", "tinykit_dep")
    dep_wheel = make_wheel(dep, tmp_path / "built")
    download = FakeDownload([dep_wheel])
    report = kit.build_kit(tmp_path / "kit", root=workbook, download=download,
                           build_wheel=make_wheel if importlib.util.find_spec("setuptools") else hand_wheel)
    assert download.calls == [["-r", str(workbook / "requirements.txt"), "setuptools>=61"]]
    assert report.wheels == sorted([dep_wheel.name, "tinykit_book-1.0-py3-none-any.whl"])
    assert report.backends == ["tensorflow"]
    assert [s.what for s in report.skipped if s.problem] == ["data"]  # no mirror known in the tests
    assert 'use-mirror "$KIT/data"' not in (tmp_path / "kit" / "INSTALL.md").read_text(encoding="utf-8")
    assert not (workbook / "build").exists() and not list(workbook.glob("*.egg-info"))  # built from a copy

    python, pip = fresh_venv(tmp_path / "venv")
    wheels = str(tmp_path / "kit" / "wheels")
    done = subprocess.run([*pip, "install", "--no-index", "--find-links", wheels, "-r",
                           str(workbook / "requirements.txt"), "tinykit_book"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = subprocess.run([str(python), "-I", "-c", "import tinykit_book, tinykit_dep; "
                            "print(tinykit_book.HELLO, tinykit_dep.HELLO, tinykit_book.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, timeout=120)
    assert check.returncode == 0, check.stderr
    assert "hello from tinykit_book 1.0 hello from tinykit_dep 1.0" in check.stdout
    assert str(tmp_path / "venv") in check.stdout  # the installed copy, not the sources


def test_install_md_gives_the_makefile_commands_from_the_kit(tmp_path):
    """INSTALL.md's first command is the Makefile's own setup recipe with --no-index --find-links; the
    extras are pyproject.toml's pins, as `make extras` installs them."""
    source = tmp_path / "source"
    (source / "toy").mkdir(parents=True)
    (source / "toy" / "a.bin").write_bytes(b"12345")
    download = FakeDownload()
    report = kit.build_kit(tmp_path / "kit", backends=("tensorflow", "jax", "torch"), data=source, download=download,
                           build_wheel=fake_build, verify=lambda folder: pd.DataFrame(
                               [{"dataset": "toy", "status": "found", "where": str(folder / "toy"), "why": ""}]))
    extras = kit._pyproject(ROOT)["project"]["optional-dependencies"]
    assert download.calls[1:] == [["-c", str(ROOT / "requirements.txt"), *extras["jax"]],
                                  ["-c", str(ROOT / "requirements.txt"), *extras["torch"]]]
    assert 'install --disable-pip-version-check -e ".[jax,torch]"' in " ".join(
        (ROOT / "Makefile").read_text(encoding="utf-8").replace("--quiet ", "").split())
    assert report.backends == ["tensorflow", "jax", "torch"]

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^\$\(STAMP\):.*\n((?:\t.*\n)+)", makefile, re.M)[1]
    make_pip = [re.sub(r"\s+", " ", line.split("-m pip install", 1)[1]).replace(" --quiet", "")
                .replace(" --disable-pip-version-check", "").strip()
                for line in recipe.splitlines() if "-m pip install" in line]
    assert make_pip == ["-r requirements.txt", "--no-deps -e ."]
    assert "touch $(STAMP)" in recipe and "STAMP   := $(VENV)/.installed" in makefile
    text = (tmp_path / "kit" / "INSTALL.md").read_text(encoding="utf-8")
    command = next(line for line in text.splitlines() if line.startswith("python3 -m venv .venv"))
    steps = [s.strip() for s in command.split("&&")]
    offline = '.venv/bin/pip install --no-index --find-links "$KIT/wheels" '
    assert steps == ["python3 -m venv .venv", *(offline + p for p in make_pip), "touch .venv/.installed"]
    assert '.venv/bin/python -m dmlib datasets use-mirror "$KIT/data"' in text
    assert "KIT=/path/to/kit" in text  # the kit lies outside the repository: a placeholder
    for backend in ("jax", "torch"):
        assert f"{offline}{' '.join(extras[backend])}" in text


def test_an_extra_that_cannot_be_downloaded_is_reported_and_the_kit_is_built(tmp_path, workbook):
    download = FakeDownload(fail=("torchfake",))
    report = kit.build_kit(tmp_path / "kit", backends=["jax", "torch"], root=workbook, download=download,
                           build_wheel=fake_build)
    assert report.backends == ["tensorflow", "jax"]
    torch = [s for s in report.skipped if s.what == "torch"]
    assert len(torch) == 1 and torch[0].problem and "could not be downloaded" in torch[0].why
    assert "no network" in torch[0].why and not report.complete
    text = (tmp_path / "kit" / "INSTALL.md").read_text(encoding="utf-8")
    assert "jaxfake==0.1" in text and "## MISSING from the kit" in text and "- torch: could not" in text
    with pytest.raises(kit.KitError, match="unknown backend"):
        kit.build_kit(tmp_path / "kit2", backends=["tensorflow", "mxnet"], root=workbook, download=download,
                      build_wheel=fake_build)


# --------------------------------------------------------------------------- data


def test_a_dataset_that_fails_verification_is_not_copied(tmp_path, workbook, fashion_mirror):
    mirror, arrays = fashion_mirror
    corrupt = mirror / ds.BEIJING_FILE
    corrupt.write_text("No,year,month\n1,2010,1\n", encoding="utf-8")
    (mirror / "README.md").write_text("what the mirror holds\n", encoding="utf-8")
    before = (os.environ["DMLIB_DATA_MIRRORS"], os.environ["DMLIB_CACHE"], os.environ["DMLIB_OFFLINE"])
    report = kit.build_kit(tmp_path / "kit", data=mirror, root=workbook, download=FakeDownload(),
                           build_wheel=fake_build)
    data = tmp_path / "kit" / "data"
    assert report.datasets == ["fashion-mnist"]
    assert sorted(p.name for p in (data / "fashion-mnist").iterdir()) == sorted(arrays)
    for name in arrays:
        assert (data / "fashion-mnist" / name).read_bytes() == (mirror / "fashion-mnist" / name).read_bytes()
    assert sorted(p.name for p in data.iterdir()) == ["fashion-mnist"]  # neither the corrupt CSV nor the README
    skipped = {s.what: s for s in report.skipped}
    assert skipped["beijing-pm25"].problem and "corrupt" in skipped["beijing-pm25"].why
    assert f"{corrupt} (mirror: CORRUPT" in skipped["beijing-pm25"].why
    assert not skipped["README.md"].problem and not skipped["mnist1d"].problem
    assert skipped["imdb"].problem and "missing" in skipped["imdb"].why
    assert not report.complete
    text = (tmp_path / "kit" / "INSTALL.md").read_text(encoding="utf-8")
    assert "- beijing-pm25: not copied, corrupt" in text and "- fashion-mnist: MIT" in text
    # the user's settings are back, and the kit's data passes dmlib's checks on its own
    assert (os.environ["DMLIB_DATA_MIRRORS"], os.environ["DMLIB_CACHE"], os.environ["DMLIB_OFFLINE"]) == before
    table = kit.verify_folder(data).set_index("dataset")
    assert table.loc["fashion-mnist", "status"] == "found"
    assert table.loc["fashion-mnist", "where"] == str(data / "fashion-mnist")


def test_a_dataset_with_one_corrupt_file_is_not_copied_at_all(tmp_path, workbook, fashion_mirror):
    mirror, _ = fashion_mirror
    (mirror / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b not gzip")
    report = kit.build_kit(tmp_path / "kit", data=mirror, root=workbook, download=FakeDownload(),
                           build_wheel=fake_build)
    assert report.datasets == []
    assert not (tmp_path / "kit" / "data" / "fashion-mnist").exists()
    why = next(s.why for s in report.skipped if s.what == "fashion-mnist")
    assert "t10k-labels-idx1-ubyte.gz (mirror: CORRUPT" in why


def test_a_copy_that_fails_its_check_in_the_kit_is_reported(tmp_path, workbook):
    """Through an injected verifier: the source passes, the copy in the kit does not."""
    source = tmp_path / "source"
    (source / "toy").mkdir(parents=True)
    (source / "toy" / "a.bin").write_bytes(b"12345")
    (source / "loose.csv").write_text("x\n", encoding="utf-8")

    def verify(folder: Path) -> pd.DataFrame:
        good = folder == source.resolve()
        return pd.DataFrame([
            {"dataset": "toy", "status": "found" if good else "corrupt", "where": str(folder / "toy"),
             "why": "" if good else f"{folder / 'toy' / 'a.bin'} (mirror: CORRUPT, bad bytes)"},
            {"dataset": "elsewhere", "status": "found", "where": "/usr/share/datasets/elsewhere", "why": ""},
            {"dataset": "extra", "status": "missing (optional)", "where": "", "why": "no copy"},
        ])

    report = kit.build_kit(tmp_path / "kit", data=source, root=workbook, download=FakeDownload(),
                           build_wheel=fake_build, verify=verify)
    skipped = {s.what: s for s in report.skipped}
    assert report.datasets == [] and skipped["toy"].problem and "the copy fails dmlib's checks" in skipped["toy"].why
    assert sorted(p.name for p in (tmp_path / "kit" / "data").iterdir()) == []  # the failed copy is not left there
    assert skipped["elsewhere"].problem and "no verified copy in" in skipped["elsewhere"].why
    assert not skipped["extra"].problem and not skipped["loose.csv"].problem


# --------------------------------------------------------------------------- sizes, folders, command line


def test_the_report_sizes_add_up(tmp_path, workbook, fashion_mirror):
    mirror, arrays = fashion_mirror
    wheel = tmp_path / "tinykit_dep-1.0-py3-none-any.whl"
    wheel.write_bytes(b"x" * 12_345)
    report = kit.build_kit(tmp_path / "kit", data=mirror, root=workbook, download=FakeDownload([wheel]),
                           build_wheel=fake_build)
    out = tmp_path / "kit"
    assert report.wheel_count == 2
    assert report.wheels_bytes == files_size(out / "wheels") == 12_345 + len(b"PK fake wheel")
    assert report.data_bytes == files_size(out / "data") == files_size(mirror / "fashion-mnist")
    assert report.total_bytes == files_size(out)
    assert report.other_bytes == (out / "INSTALL.md").stat().st_size + (out / kit.MARKER).stat().st_size
    assert report.wheels_bytes + report.data_bytes + report.other_bytes == report.total_bytes
    assert report.total_mb == pytest.approx(report.total_bytes / 1e6)
    summary = report.summary()
    assert f"{report.wheels_mb:.1f} MB" in summary and f"{report.total_mb:.1f} MB" in summary
    assert "2 wheels" in summary and "1 dataset," in summary


def test_the_site_goes_into_the_kit_when_built(tmp_path, workbook):
    report = kit.build_kit(tmp_path / "kit", root=workbook, download=FakeDownload(), build_wheel=fake_build)
    assert report.book_bytes == 0 and not (tmp_path / "kit" / "book").exists()
    assert any(s.what == "book" and not s.problem and "make book" in s.why for s in report.skipped)
    (workbook / "book" / "mathjax").mkdir(parents=True)
    (workbook / "book" / "index.html").write_text("<h1>site</h1>", encoding="utf-8")
    (workbook / "book" / "mathjax" / "MathJax.js").write_text("/* mj */", encoding="utf-8")
    report = kit.build_kit(tmp_path / "kit", root=workbook, download=FakeDownload(), build_wheel=fake_build)
    assert (tmp_path / "kit" / "book" / "mathjax" / "MathJax.js").is_file()
    assert report.book_bytes == files_size(tmp_path / "kit" / "book") > 0
    assert report.wheels_bytes + report.data_bytes + report.book_bytes + report.other_bytes == report.total_bytes
    assert "book/index.html" in report.summary()
    assert "`book/index.html`" in (tmp_path / "kit" / "INSTALL.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["notebooks", "notebooks/kit", "results", "results/sub/kit"])
def test_refuses_an_out_folder_inside_notebooks_or_results(tmp_path, workbook, where):
    download = FakeDownload()
    with pytest.raises(kit.KitError, match=r"refusing .* the repository's (notebooks|results)/ folder"):
        kit.build_kit(workbook / where, root=workbook, download=download, build_wheel=fake_build)
    assert download.calls == []
    assert sorted(p.name for p in (workbook / where.split("/")[0]).iterdir()) == []


@pytest.mark.parametrize("where", ["notebooks/kit", "results"])
def test_the_command_refuses_the_repositorys_notebooks_and_results(where, monkeypatch, capsys):
    def never(*args):
        raise AssertionError("nothing may be downloaded or built")

    monkeypatch.setattr(kit, "pip_download", never)
    monkeypatch.setattr(kit, "pip_wheel", never)
    target = ROOT / where
    existed = target.exists()
    assert cli.main(["kit", "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"the repository's {where.split('/')[0]}/ folder" in err and "Traceback" not in err
    assert target.exists() == existed and not (target / kit.MARKER).exists()


def test_a_folder_that_is_not_a_kit_is_refused_and_an_old_kit_is_rebuilt(tmp_path, workbook):
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(kit.KitError, match="not empty and holds no earlier kit"):
        kit.build_kit(other, root=workbook, download=FakeDownload(), build_wheel=fake_build)
    assert sorted(p.name for p in other.iterdir()) == ["precious.txt"]

    out = tmp_path / "kit"
    kit.build_kit(out, root=workbook, download=FakeDownload(), build_wheel=fake_build)
    (out / "wheels" / "stale-0.1-py3-none-any.whl").write_bytes(b"old")
    report = kit.build_kit(out, root=workbook, download=FakeDownload(), build_wheel=fake_build)
    assert report.wheels == ["workbook-0.1.0-py3-none-any.whl"]  # nothing stale stays

    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(kit.KitError, match="overlaps the data folder"):
        kit.build_kit(data / "kit", data=data, root=workbook, download=FakeDownload(), build_wheel=fake_build)


def test_the_command_prints_the_report_and_exits_0_for_a_complete_kit(tmp_path, workbook, monkeypatch, capsys):
    source = tmp_path / "source"
    (source / "toy").mkdir(parents=True)
    (source / "toy" / "a.bin").write_bytes(b"12345")

    def verify(folder: Path) -> pd.DataFrame:
        return pd.DataFrame([{"dataset": "toy", "status": "found", "where": str(folder / "toy"), "why": ""},
                             {"dataset": "gen", "status": "found", "where": "generated offline", "why": ""}])

    download = FakeDownload()
    monkeypatch.setattr(kit, "ROOT", workbook)
    monkeypatch.setattr(kit, "pip_download", download)
    monkeypatch.setattr(kit, "pip_wheel", fake_build)
    monkeypatch.setattr(kit, "verify_folder", verify)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(source))  # the default data folder: the first mirror
    assert cli.main(["kit", "--with-jax"]) == 0
    out = capsys.readouterr().out
    assert f"Kit written to {workbook / 'kit'}" in out and "(tensorflow, jax)" in out
    assert "1 dataset, 0.0 MB: toy" in out and "- gen: nothing to copy (generated offline)" in out
    assert (workbook / "kit" / "data" / "toy" / "a.bin").read_bytes() == b"12345"
    assert "KIT=kit\n" in (workbook / "kit" / "INSTALL.md").read_text(encoding="utf-8")
    assert download.calls[1] == ["-c", str(workbook / "requirements.txt"), "jaxfake==0.1"]

    monkeypatch.setattr(kit, "pip_download", FakeDownload(fail=("jaxfake",)))
    assert cli.main(["kit", "--with-jax"]) == 1  # rebuilt, but without JAX: incomplete
    assert "The kit is INCOMPLETE" in capsys.readouterr().out
