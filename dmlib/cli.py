"""Command line: ``python -m dmlib doctor | datasets list|fetch|verify | run | report | bench | student | kit |
book | sentiment``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from dmlib import datasets as ds
from dmlib.config import PROFILES, ProfileError, backend_problem, device, normalize_profile, profile, versions
from dmlib.results import ResultsFileError


def doctor() -> int:
    """Print versions, backend, devices, profile, folders and the status of every dataset.

    Returns 1 (after printing everything else) when the backend cannot start or ``DMLIB_PROFILE``
    or ``KERAS_BACKEND`` names nothing known, each with one clear message; else 0.
    """
    import pandas as pd

    problems: list[str] = []
    vers = versions()
    print("Versions:  " + "  ".join(f"{k} {v}" for k, v in vers.items()))
    problem = backend_problem()
    if problem:
        problems.append(problem)
        print(f"Backend:   NOT USABLE: {problem}")
    else:
        try:
            from dmlib.config import start_backend

            start_backend()
            import keras

            print(f"Backend:   {keras.backend.backend()} (set KERAS_BACKEND=tensorflow|jax|torch to change)")
            print(f"Device:    {device()}")
        except Exception as err:  # the doctor must still report when a backend is broken
            problems.append(f"cannot start Keras with KERAS_BACKEND={os.environ.get('KERAS_BACKEND', '')!r}: {err}")
            print(f"Backend:   NOT USABLE: {problems[-1]}")
    try:
        print(f"Profile:   {profile()} (set DMLIB_PROFILE={'|'.join(PROFILES)})")
    except ProfileError as err:
        problems.append(str(err))
        print(f"Profile:   NOT USABLE: {err}")
    print(f"Cache:     {ds.cache_dir()} (DMLIB_CACHE)")
    mirrors = ds.mirrors()
    none = f"(none; record one with `{ds.CLI} datasets use-mirror PATH`, or set DMLIB_DATA_MIRRORS)"
    print(f"Mirrors:   {os.pathsep.join(map(str, mirrors)) if mirrors else none}")
    try:
        print(f"Offline:   {'yes (DMLIB_OFFLINE=1: no downloads)' if ds.offline() else 'no (missing data is downloaded)'}")
    except ds.DatasetError as err:
        problems.append(str(err))
        print(f"Offline:   NOT USABLE: {err}")
    print()
    table = ds.status()
    with pd.option_context("display.max_colwidth", 120, "display.width", 200):
        print(table.to_string(index=False))
    print(ds.missing_hint(table) or "")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def datasets_cmd(action: str, names: list[str], deep: bool = False) -> int:
    """``list``: names and status; ``fetch NAME...``: load (downloading if needed); ``verify``: check
    all (exit 1 only when a dataset the notebooks need is missing or corrupt; optional ones are
    reported); ``use-mirror PATH``: record a mirror folder for every later session;
    ``forget-mirrors``: forget the recorded ones.

    With ``deep`` (``verify --deep``), every source file is verified again (the record of files
    verified before is ignored) and every file of the prepared cache is re-derived from its verified
    sources; one that differs is reported and rebuilt, and the exit code is 1.
    """
    import pandas as pd

    if action in ("use-mirror", "forget-mirrors"):
        if action == "use-mirror" and len(names) != 1:
            print("usage: python -m dmlib datasets use-mirror PATH   (the folder holding the datasets)", file=sys.stderr)
            return 2
        try:
            if action == "forget-mirrors":
                ds.forget_mirrors()
                print(f"Recorded mirrors forgotten ({ds.cache_dir() / ds.CONFIG_FILE}); DMLIB_DATA_MIRRORS still applies.")
                return 0
            folder = ds.use_mirror(names[0])
        except ds.DatasetError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"Recorded {folder} in {ds.cache_dir() / ds.CONFIG_FILE}: every session now searches it "
              "(after DMLIB_DATA_MIRRORS). Nothing was copied.\n")
        print(ds.status().to_string(index=False))
        return 0
    if action == "list":
        table = pd.DataFrame([{"dataset": d.name, "description": d.description, "licence": d.licence}
                              for d in ds.DATASETS.values()])
        print(table.merge(ds.status(), on="dataset").to_string(index=False))
        return 0
    if action == "verify":
        table = ds.status(deep=deep)
        print(table.to_string(index=False))
        needed = ~table["status"].str.endswith("(optional)")
        failed = table[needed & (table["status"] != "found")]["dataset"].tolist()
        for name in failed:
            try:
                ds.DATASETS[name].find()
            except (ds.DatasetError, OSError) as err:
                print(f"\n{err}", file=sys.stderr)
        code = 1 if failed else 0
        if deep:
            prepared = ds.verify_prepared()
            print(f"\nPrepared files ({ds.cache_dir() / 'dmlib-prepared'}), re-derived from their verified sources:")
            print(prepared[["file", "dataset", "result"]].to_string(index=False) if len(prepared) else "(none)")
            code = code or int(not prepared["ok"].all())
        print(ds.missing_hint(table) or "")
        rebuilt = deep and bool(prepared["result"].str.contains("rebuilt from them").any())
        print("Nothing was downloaded, extracted or copied" + ("; the prepared files that differed from their "
              "sources were rebuilt from them" if rebuilt else "") + f". The files verified are remembered in "
              f"{ds.cache_dir() / ds.STAMPS_FILE} so that the next check is quick. Optional datasets "
              "(no notebook needs them by default) do not make verify fail. The cache folder is trusted like "
              f"the virtual environment; `{ds.CLI} datasets verify --deep` re-derives what it holds.")
        return code
    unknown = [n for n in names if n not in ds.DATASETS]
    if unknown or not names:
        print(f"name one or more of: {', '.join(ds.DATASETS)}", file=sys.stderr)
        return 2
    code = 0
    for name in names:
        start = time.perf_counter()
        try:
            ds.DATASETS[name].load()
        except (ds.DatasetError, OSError) as err:
            print(f"{name}: {err}", file=sys.stderr)
            code = 1
            continue
        print(f"{name}: ready ({time.perf_counter() - start:.1f} s)")
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m dmlib``."""
    parser = argparse.ArgumentParser(prog="python -m dmlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="versions, devices, folders and datasets")
    p_ds = sub.add_parser("datasets", help="list, fetch or verify datasets; record a mirror folder")
    p_ds.add_argument("action", choices=["list", "fetch", "verify", "use-mirror", "forget-mirrors"])
    p_ds.add_argument("names", nargs="*", help=f"for fetch: {', '.join(ds.DATASETS)}; for use-mirror: PATH")
    p_ds.add_argument("--deep", action="store_true",
                      help="verify: also re-derive every prepared file from its verified sources")
    p_run = sub.add_parser("run", help="execute notebooks headless and record results/<profile>.json")
    p_run.add_argument("--profile", default=None,
                       help=f"{' | '.join(PROFILES)}, any case (default: DMLIB_PROFILE, else standard)")
    p_run.add_argument("notebooks", nargs="*", help="notebook files or name prefixes (default: all)")
    p_rep = sub.add_parser("report", help="rewrite the README's results table from results/*.json")
    p_rep.add_argument("--readme", type=Path, default=None)
    p_bench = sub.add_parser("bench", help="seconds per epoch per backend, windowing throughput, smoke suite time")
    p_bench.add_argument("--backends", nargs="*", default=None, help="default: every installed backend")
    p_bench.add_argument("--steps", type=int, default=20, help="training batches timed per model (after a warm-up)")
    p_bench.add_argument("--smoke-suite", action="store_true", help="also time `pytest notebooks` per backend (slow)")
    p_bench.add_argument("--readme", type=Path, nargs="?", const=Path("README.md"), default=None,
                         help="write the tables into README.md between the bench markers")
    p_bench.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p_stu = sub.add_parser("student", help="write the student edition (no solutions) of notebooks to student/")
    p_stu.add_argument("--out", type=Path, default=None, help="the folder to write into (default: student/ at the "
                       "repository root; never notebooks/, the teacher edition)")
    p_stu.add_argument("notebooks", nargs="*", help="notebook files or name prefixes (default: all)")
    p_kit = sub.add_parser("kit", help="an offline install kit: wheels, verified datasets and INSTALL.md, for "
                           "classrooms without internet")
    p_kit.add_argument("--out", type=Path, default=None, help="the kit folder (default: kit/ at the repository root; "
                       "never inside notebooks/ or results/)")
    p_kit.add_argument("--with-jax", action="store_true", help="add the JAX backend's wheels (as `make extras`)")
    p_kit.add_argument("--with-torch", action="store_true", help="add the PyTorch backend's wheels (as `make extras`)")
    p_kit.add_argument("--data", type=Path, default=None, help="the dataset folder to verify and copy (default: the "
                       "first mirror dmlib knows: DMLIB_DATA_MIRRORS, then those recorded with `datasets use-mirror`)")
    p_book = sub.add_parser("book", help="a static site of the notebooks (committed outputs, math, plots) into "
                            "book/, readable offline")
    p_book.add_argument("--out", type=Path, default=None, help="the site folder (default: book/ at the repository "
                        "root; never inside notebooks/ or results/)")
    p_book.add_argument("notebooks", nargs="*", help="notebook files or name prefixes (default: all)")
    p_sent = sub.add_parser("sentiment", help="score reviews with the model 04_text_sentiment saved: p(positive) "
                            "and a label, one line per text")
    p_sent.add_argument("texts", nargs="+", help="the reviews, each one quoted argument")
    p_sent.add_argument("--model", type=Path, default=None, help="the folder the model was saved into (default: "
                        "models/04_sentiment/<profile>/ at the repository root, where the notebook saves it)")
    args = parser.parse_args(argv)
    try:
        return _command(args)
    except ProfileError as err:  # e.g. DMLIB_PROFILE=bogus: one clear line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ResultsFileError as err:  # a damaged results/<profile>.json: the message names the file
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ds.DatasetError as err:  # e.g. DMLIB_OFFLINE=maybe: one clear line
        print(f"error: {err}", file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> int:
    """Run the parsed command; return its exit code."""
    if args.command == "doctor":
        return doctor()
    if args.command == "datasets":
        return datasets_cmd(args.action, args.names, deep=args.deep)
    if args.command == "run":
        from dmlib.runner import run

        name = profile() if args.profile is None else normalize_profile(args.profile, source="--profile")
        return run(name, args.notebooks)
    if args.command == "report":
        from dmlib.report import update_readme
        from dmlib.runner import ROOT

        try:
            update_readme(args.readme or ROOT / "README.md", ROOT / "results")
        except (ValueError, OSError) as err:  # no README there, no markers, unwritable: one line, no traceback
            print(f"error: {err}", file=sys.stderr)
            return 1
        print("README.md results table updated")
        from dmlib.report import stale_runs

        stale = stale_runs(ROOT / "results", ROOT / "notebooks")
        for (prof, nb), reasons in stale.items():
            print(f"stale: {prof} {nb}: {'; '.join(reasons)}")
        print(f"{len(stale)} recorded run(s) stale: re-run them with `make run PROFILE=<profile> NB=<number>`"
              if stale else "every recorded run is current")
        return 0
    if args.command == "bench":
        from dmlib.bench import main as bench

        return bench(args.backends, args.steps, args.smoke_suite, args.readme, args.worker)
    if args.command == "student":
        return student_cmd(args.notebooks, args.out)
    if args.command == "kit":
        backends = ["tensorflow"] + ["jax"] * args.with_jax + ["torch"] * args.with_torch
        return kit_cmd(args.out, backends, args.data)
    if args.command == "book":
        return book_cmd(args.notebooks, args.out)
    if args.command == "sentiment":
        return sentiment_cmd(args.texts, args.model)
    return 2


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def student_cmd(selectors: list[str], out: Path | None) -> int:
    """Write the student edition of the selected notebooks (default: all) into ``out`` (default:
    ``student/`` at the repository root), one line per notebook; 1 with one message on error."""
    from dmlib import runner
    from dmlib.student import build_student_edition

    notebooks = runner.find_notebooks(selectors)
    if not notebooks:
        print(f"error: no notebooks found in {runner.NOTEBOOKS}", file=sys.stderr)
        return 1
    try:
        written = build_student_edition(notebooks, out if out is not None else runner.ROOT / "student")
    except (ValueError, OSError) as err:  # a refused folder, an unreadable notebook, an unwritable folder
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path, removed in written:
        print(f"{_shown(path)}: {removed} solution cell{'s' * (removed != 1)} removed")
    return 0


def kit_cmd(out: Path | None, backends: list[str], data: Path | None) -> int:
    """Write the offline install kit into ``out`` (default: ``kit/`` at the repository root) and print its
    report; 0 when the kit holds everything asked for, 1 when something is missing from it (the kit
    is still written, and the report says what and why) or on error (one message)."""
    from dmlib import kit

    target = out if out is not None else kit.ROOT / "kit"
    print(f"Building the offline install kit in {_shown(target)} (the downloads take minutes) ...", flush=True)
    try:
        report = kit.build_kit(target, backends=backends, data=data, log=lambda line: print(f"  {line}", flush=True))
    except (ValueError, OSError) as err:  # a refused folder, a failed download, an unwritable folder
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0 if report.complete else 1


def book_cmd(selectors: list[str], out: Path | None) -> int:
    """Write the static site of the selected notebooks (default: all) into ``out`` (default: ``book/`` at
    the repository root) and print its time and size; 1 with one message on error."""
    from dmlib import runner
    from dmlib.book import BookError, build_book

    target = out if out is not None else runner.ROOT / "book"
    print(f"Building the site in {_shown(target)} from the committed notebooks (nothing is run) ...", flush=True)
    try:
        report = build_book(runner.find_notebooks(selectors), target, readme=runner.ROOT / "README.md")
    except (BookError, OSError) as err:  # no notebooks or MathJax, a refused folder, a page that needs the internet
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def sentiment_cmd(texts: list[str], model: Path | None) -> int:
    """Print ``p(positive)  label  text`` for each text, scored by the classifier saved in ``model``
    (default: :func:`dmlib.sentiment.default_model_folder`); 1 with one message when no model was saved
    there, when it cannot be read, or for a text without a word; 2 when ``KERAS_BACKEND`` is unusable."""
    problem = backend_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from dmlib.config import start_backend

    start_backend()  # before dmlib.sentiment imports Keras, so that TensorFlow's start-up chatter is filtered
    from dmlib import sentiment
    from dmlib.text import tokenize

    folder = model if model is not None else sentiment.default_model_folder()
    missing = sentiment.missing_files(folder)
    if missing:
        make = "make run NB=04" if profile() == "standard" else f"make run PROFILE={profile()} NB=04"
        run = f"run notebooks/04_text_sentiment.ipynb first ({make})"
        print(f"error: no saved sentiment model in {_shown(folder)} (it lacks {', '.join(missing)}): "
              + (f"{run}, which saves its model there, or name a folder written by "
                 "dmlib.sentiment.save_text_classifier with --model DIR" if model is None else
                 "name a folder written by dmlib.sentiment.save_text_classifier, or leave out --model to use the "
                 f"notebook's model: {run}"), file=sys.stderr)
        return 1
    try:
        classifier = sentiment.load_text_classifier(folder)
        scores = sentiment.predict_sentiment(classifier, texts)
        unknown = classifier.unknown_counts(texts)
    except (ValueError, OSError) as err:  # a damaged folder, an unreadable model, a text without a word
        print(f"error: {err}", file=sys.stderr)
        return 1
    for t, p, n in zip(texts, scores, unknown):
        note = "  (none of its words is known to the model: the score says nothing)" if n == len(tokenize(t)) else ""
        print(f"{p:.3f}  {'positive' if p > 0.5 else 'negative'}  {' '.join(t.split())}{note}")
    return 0
