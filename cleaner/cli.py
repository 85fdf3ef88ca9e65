"""The `cleaner` command: clean one page, clean a JSONL batch, serve HTTP, train, evaluate.

Kept thin on purpose: every behaviour lives in a module the service and tests also use
(`cleaner.cleaning`, `cleaner.batch`, `service`), so the CLI only parses arguments, moves bytes
and turns failures into one stderr line and an exit status a shell script can act on:
0 success, 1 failure of the tool or model, 2 bad usage or input, 130 interrupted.
Set CLEANER_DEBUG=1 to get the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from cleaner.errors import CleanerError, DecodeError, EmptyPageError

PROG = "cleaner"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
# Errors that mean "your input is wrong" rather than "the tool failed".
INPUT_ERRORS: tuple[type[CleanerError], ...] = (EmptyPageError, DecodeError)


class UsageError(Exception):
    """Bad command line or unreadable input: exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the brief contract for every error)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _write_stdout(text: str) -> None:
    """UTF-8 whatever the locale: an article in Chinese must not die on LANG=C."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
    else:
        buffer.write(text.encode("utf-8", errors="surrogateescape"))
        buffer.flush()


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


def _load(model: str | None) -> Any:
    from cleaner.batch import load_cleaner

    return load_cleaner(model)


# --- commands ------------------------------------------------------------------------------


def cmd_clean(args: argparse.Namespace) -> int:
    kind = args.kind
    if kind is None and args.file.lower().endswith(HTML_SUFFIXES):
        kind = "html"
    data = _read_input(args.file)
    result = _load(args.model).clean_bytes(
        data, kind=kind, charset=args.charset, repair=args.repair
    )
    if args.json:
        _write_stdout(json.dumps(result.to_dict(), ensure_ascii=False, indent=args.indent) + "\n")
    else:
        text = result.text
        _write_stdout(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    from cleaner.batch import Fields, default_workers, run_batch
    from cleaner.parts import ResumeError
    from cleaner.readers import InputError
    from cleaner.writers import OutputError

    workers = default_workers() if args.workers is None else args.workers
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.part_size < 1:
        raise UsageError("--part-size must be at least 1")
    if args.output != "-":
        parent = Path(args.output).parent
        if not parent.is_dir():
            raise UsageError(f"{args.output}: directory {str(parent)!r} does not exist")
    try:
        stats = run_batch(
            args.inputs,
            args.output,
            model_path=args.model,
            fields=Fields(text=args.text_field, html=args.html_field, id=args.id_field),
            repair=args.repair,
            workers=workers,
            progress=args.progress,
            input_format=args.input_format,
            output_format_=args.output_format,
            resume=args.resume,
            part_size=args.part_size,
            notify=lambda msg: print(f"{PROG}: {msg}", file=sys.stderr),
        )
    except (InputError, OutputError, ResumeError) as exc:
        raise UsageError("; ".join([str(exc), *getattr(exc, "__notes__", [])])) from None
    print(stats.summary(), file=sys.stderr)
    return EXIT_OK


def _import_service() -> Any:
    """`service` lives at the repository root, beside the package, not inside it."""
    try:
        return importlib.import_module("service")
    except ModuleNotFoundError as exc:
        if exc.name != "service":
            raise
    path = Path(__file__).resolve().parents[1] / "service.py"
    if not path.is_file():
        raise CleanerError("service.py not found; run 'cleaner serve' from a source checkout")
    spec = importlib.util.spec_from_file_location("service", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["service"] = module
    spec.loader.exec_module(module)
    return module


def gunicorn_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The gunicorn command line and environment `cleaner serve` runs (gunicorn.conf.py reads
    its settings from CLEANER_* variables, so the flags here only fill those in)."""
    spec = importlib.util.find_spec("service")
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    if origin is None:
        origin = Path(__file__).resolve().parents[1] / "service.py"
    conf = origin.with_name("gunicorn.conf.py")
    if not conf.is_file():
        raise CleanerError(f"{conf} not found; run 'cleaner serve' from a source checkout")
    env = dict(os.environ)
    env["CLEANER_BIND"] = f"{args.host}:{args.port}"
    for flag, var in (("workers", "CLEANER_WORKERS"), ("threads", "CLEANER_THREADS")):
        value = getattr(args, flag)
        if value is not None:
            if value < 1:
                raise UsageError(f"--{flag} must be at least 1")
            env[var] = str(value)
    if args.model:
        env["CLEANER_MODEL_PATH"] = str(Path(args.model).resolve())
    # `service` must import in the server whether or not it is installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(origin.parent), env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "gunicorn", "-c", str(conf), "service:create_app()"]
    return argv, env


def cmd_serve(args: argparse.Namespace) -> int:
    if not args.dev:
        argv, env = gunicorn_command(args)
        print(f"cleaner: serving on http://{args.host}:{args.port} (gunicorn)", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvpe(argv[0], argv, env)  # gunicorn's master takes this process (and signals)
    app = _import_service().create_app({"MODEL_PATH": args.model})
    print(
        f"cleaner: development server on http://{args.host}:{args.port}; "
        "drop --dev for the production server",
        file=sys.stderr,
    )
    app.run(host=args.host, port=args.port, debug=False, threaded=True)
    return EXIT_OK


def _forward(module: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        try:
            entry = importlib.import_module(module).main
        except (ModuleNotFoundError, AttributeError) as exc:
            raise CleanerError(f"{module} is not available: {exc}") from None
        status = entry(argv)
        return EXIT_OK if status is None else int(status)

    return run


# Subcommands whose arguments belong to another parser entirely.
FORWARDED: dict[str, tuple[str, str]] = {
    "train": ("training.train", "train a model (arguments go to python -m training.train)"),
    "evaluate": ("training.evaluate", "evaluate a model (arguments go to training.evaluate)"),
    "spark": ("cleaner.spark", "clean JSONL/Parquet/WARC with PySpark into Parquet (extra: spark)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Clean scraped pages: label lines content/boilerplate/spam, excise spam.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    model = _Parser(add_help=False)
    model.add_argument("--model", metavar="PATH", help="model file (default: the shipped model)")
    repair = _Parser(add_help=False)
    repair.add_argument(
        "--no-repair",
        dest="repair",
        action="store_false",
        help="keep spam spans inside content lines (they are still reported)",
    )

    p = sub.add_parser(
        "clean", parents=[model, repair], help="clean one page and print the article"
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="page file, - for stdin")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--html", dest="kind", action="store_const", const="html")
    kind.add_argument("--text", dest="kind", action="store_const", const="text")
    p.add_argument("--charset", help="the page's encoding when known (else detected)")
    p.add_argument("--json", action="store_true", help="print the full result with its audit")
    p.add_argument("--indent", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser(
        "batch",
        parents=[model, repair],
        help="clean JSONL, WARC or WET files of pages into JSONL(.gz) or Parquet",
        description="Clean every record of IN... into OUT: one output record per input record "
        "(JSONL line, HTML response of a WARC, conversion record of a WET), in input order.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="files, folders, globs (quoted) or - for stdin; JSONL(.gz), WARC(.gz), WET(.gz)",
    )
    p.add_argument(
        "output", metavar="OUT", help="OUT.jsonl, OUT.jsonl.gz, OUT.parquet, or - for stdout"
    )
    p.add_argument(
        "--input-format",
        choices=("jsonl", "warc", "wet"),
        default=None,
        help="skip sniffing (by extension, then content) and read every input as this",
    )
    p.add_argument(
        "--output-format",
        choices=("jsonl", "parquet"),
        default=None,
        help="default: from OUT's name",
    )
    p.add_argument("--text-field", default="text", metavar="NAME")
    p.add_argument("--html-field", default="html", metavar="NAME")
    p.add_argument("--id-field", default="id", metavar="NAME")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes, each loading the model once (default: all cores)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its committed parts in OUT.partial/",
    )
    p.add_argument(
        "--part-size",
        type=int,
        default=1024,
        metavar="N",
        help="records per committed part: what a crash can cost (default: 1024)",
    )
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        help="show the progress bar even when stderr is not a terminal",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_const", const=False)
    p.set_defaults(func=cmd_batch, progress=None)

    p = sub.add_parser(
        "serve", parents=[model], help="run the HTTP service (gunicorn; --dev: Flask's server)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, metavar="N", help="processes (default: one per core)")
    p.add_argument("--threads", type=int, metavar="N", help="threads per process (default 4)")
    p.add_argument("--dev", action="store_true", help="Flask's development server instead")
    p.set_defaults(func=cmd_serve)

    for name, (_, helptext) in FORWARDED.items():
        sub.add_parser(name, help=helptext, add_help=False)
    return parser


def _fail(message: str, status: int, exc: BaseException | None = None) -> int:
    """One line on stderr; exception notes (e.g. how to resume) go on the same line."""
    notes = getattr(exc, "__notes__", None) or []
    print(f"{PROG}: error: {'; '.join([message, *notes])}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(os.environ.get("CLEANER_DEBUG"))
    try:
        if argv and argv[0] in FORWARDED:
            return _forward(FORWARDED[argv[0]][0])(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except INPUT_ERRORS as exc:
        return _fail(str(exc) or exc.code, EXIT_USAGE)
    except KeyboardInterrupt as exc:
        return _fail("interrupted", EXIT_INTERRUPTED, exc)
    except BrokenPipeError:
        # The reader went away (`cleaner clean page | head`): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, CleanerError):
            return _fail(str(exc) or exc.code, EXIT_FAILURE, exc)
        if isinstance(exc, OSError):
            where = f"{exc.filename}: " if exc.filename else ""
            return _fail(f"{where}{exc.strerror or exc}", EXIT_FAILURE, exc)
        return _fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_FAILURE, exc)
