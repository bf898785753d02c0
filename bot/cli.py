"""Command line: `praktikbot ingest | ask | serve | worker | slack | eval | purge | db upgrade` (see the README).

With --json exactly one JSON document goes to stdout; progress and logs go to stderr."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import nullcontext
from pathlib import Path

from pydantic import ValidationError

from bot.records import Records
from bot.settings import Settings

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG = 0, 1, 2


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        _fail(f"ugyldig konfiguration (invalid settings): {exc}")


def _writable_settings() -> Settings:
    """Settings for a command that writes the data dir: a read-only or full one is a clear error now,
    not a traceback later."""
    from ingest.sync import DataDirError, check_data_dir

    settings = _settings()
    try:
        check_data_dir(settings)
    except DataDirError as exc:
        _fail(str(exc))
    return settings


def _fail(message: str, code: int = EXIT_CONFIG):
    print(f"praktikbot: {message}", file=sys.stderr)
    raise SystemExit(code)


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _progress_bar(enabled: bool, unit: str = "dok", desc: str = "Indlæser"):
    """A tqdm bar on stderr when it is a terminal; otherwise no progress output (and no update function)."""
    if not enabled or not sys.stderr.isatty():
        return None, nullcontext()
    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, file=sys.stderr, desc=desc)

    def update(done: int, total: int, current: str = "") -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(current[-40:], refresh=True)

    return update, bar


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.embeddings import EmbeddingsConfigError
    from ingest.lock import IndexBusyError, serving_pid
    from ingest.sync import IngestConfigError, sync
    from ingest.vectorstore import IndexUnavailableError

    settings = _writable_settings()
    if not settings.chroma_url and (pid := serving_pid(settings.data_dir)):
        _fail(f"Praktikbot-serveren (proces {pid}) ejer indekset i {settings.data_dir}. Genindlæs via den: "
              "POST /api/admin/ingest, admin-fanen eller `/praktik reindex` - eller stop serveren først "
              "(a running server owns the embedded index; re-ingest through it)")
    progress, bar = _progress_bar(not args.json)
    try:
        with bar:
            report = sync(settings, paths=[Path(p) for p in args.paths] or None, rebuild=args.rebuild,
                          progress=progress)
    except (IngestConfigError, EmbeddingsConfigError, IndexUnavailableError, IndexBusyError) as exc:
        _fail(str(exc))
    if args.json:
        _print_json(report.as_dict())
    else:
        for label, items in (("tilføjet", report.added), ("opdateret", report.updated),
                             ("fjernet", report.removed)):
            for item in items:
                print(f"  {label}: {item}")
        for failure in report.failed:
            print(f"  FEJL: {failure['path']}: {failure['error']}")
        for warning in report.warnings:
            handled = "maskeret (masked)" if warning.get("masked") else "ikke maskeret (found, not masked)"
            print(f"  PERSONOPLYSNINGER: {warning['path']}: {warning['count']} × {warning['kind']}, {handled}")
        print(f"{report.documents} dokumenter, {report.chunks} tekstafsnit i indekset "
              f"({len(report.added)} tilføjet, {len(report.updated)} opdateret, {len(report.removed)} fjernet, "
              f"{len(report.unchanged)} uændret, {len(report.failed)} fejlet) på {report.seconds:.1f} s")
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _answer_service(settings: Settings, model=None):
    from bot.answer import AnswerService
    from bot.llm import LLMConfigError
    from bot.model import ModelError
    from ingest.embeddings import EmbeddingsConfigError
    from ingest.reader import IndexMissingError
    from ingest.sync import ModelMismatchError
    from ingest.vectorstore import IndexUnavailableError

    try:
        return AnswerService(settings, model=model)
    except (IndexMissingError, ModelMismatchError, EmbeddingsConfigError, IndexUnavailableError,
            LLMConfigError, ModelError) as exc:
        _fail(str(exc))


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.answer import InvalidQuestionError
    from ingest.dates import DateError

    service = _answer_service(_settings())
    try:
        answer = service.ask(args.question, as_of=args.as_of)
    except (InvalidQuestionError, DateError) as exc:
        _fail(str(exc))
    if args.json:
        _print_json(answer.model_dump())
        return EXIT_OK
    print(answer.answer)
    if answer.citations:
        print("\nKilder:")
        for c in answer.citations:
            date = f", {c.valid_from}" if c.valid_from else ""
            print(f"  [{c.n}] {c.title} · {c.section}{date} ({c.source})\n      »{c.quote}«")
    if answer.see_also:
        print("\nSe også:")
        for s in answer.see_also:
            print(f"  {s.title} · {s.section} ({s.source})")
    if answer.warnings:
        print("\nAdvarsler (warnings):")
        for w in answer.warnings:
            print(f"  ! {w.message}")
    low = " – lav sikkerhed (low confidence)" if answer.low_confidence else ""
    print(f"\nSikkerhed (confidence): {answer.confidence:.2f}{low}")
    return EXIT_OK


def _no_progress(done: int, total: int) -> None:
    """Progress goes nowhere when stderr is not a terminal."""


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluate import EvalFileError, evaluate, load_questions

    try:
        questions = load_questions(Path(args.file))
    except EvalFileError as exc:
        _fail(str(exc))
    settings = _settings()
    if args.fit:
        from bot.fitting import fit
        from bot.model import AnswerModel, model_path

        service = _answer_service(settings, model=AnswerModel.unfitted(args.english_bridge))
        progress, bar = _progress_bar(True, "spm", "Tilpasser (fitting)")
        with bar:
            service.model = fit(service, questions, args.english_bridge, progress or _no_progress)
        service.model.save(model_path())
        print(f"praktikbot: svarmodellen er gemt i {model_path()} (answer model saved): "
              f"{json.dumps(service.model.thresholds)}", file=sys.stderr)
    else:
        service = _answer_service(settings)
    progress, bar = _progress_bar(not args.json, "spm", "Evaluerer")
    with bar:
        result = evaluate(service, questions, progress or _no_progress)
    if args.json:
        _print_json(result)
        return EXIT_OK
    for row in result["rows"]:
        mark = "ok " if row["abstain_ok"] and row["contains"] is not False else "FEJL"
        print(f"  {mark} {row['split']:7} {row['id']}: rank={row['rank']} abstained={row['abstained']} "
              f"confidence={row['confidence']:.2f} {row['ms']:.0f} ms")
    for name, figures in result["splits"].items():
        print(f"{name}: {json.dumps(figures, ensure_ascii=False)}")
    print(f"latency_ms: {json.dumps(result['latency_ms'])}")
    return EXIT_OK


def _purge(records: Records, days: int) -> None:
    purged = records.purge(days)
    print(f"praktikbot: {purged.audit} svar og {purged.feedback} feedback ældre end {days} dage er slettet fra "
          f"revisionsloggen, og {purged.escalations} spørgsmål til fagpersoner og {purged.drafts} gemte udkast "
          f"({purged.audit} answers, {purged.feedback} feedback, {purged.escalations} escalations and "
          f"{purged.drafts} saved drafts older than {days} days deleted)")


def cmd_purge(args: argparse.Namespace) -> int:
    settings = _settings()
    days = settings.audit_days if args.days is None else args.days
    if days is None:
        _fail("angiv --days N eller sæt PRAKTIKBOT_AUDIT_DAYS (give --days N or set PRAKTIKBOT_AUDIT_DAYS)")
    _purge(Records(settings.data_dir, url=settings.database_url), days)
    return EXIT_OK


def _runtime(settings: Settings, role: str | None = None):
    """The runtime of `serve`, `worker` and `slack`; a database it can't reach or migrate is a clear error.
    `serve` and `slack` are read-only replicas on a Chroma server, and do everything when it is embedded."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.runtime import Runtime

    try:
        return Runtime(settings, role=role or ("replica" if settings.chroma_url else "all"), watch_index=True)
    except SQLAlchemyError as exc:
        _fail(f"databasen kan ikke nås eller opdateres (the database can't be reached or upgraded): {exc}")


def cmd_db(args: argparse.Namespace) -> int:
    """Migrate the database before replicas start (each start migrates too; this does it once, visibly)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import Database

    settings = _settings()
    try:
        Database(settings.database_url, settings.data_dir).upgrade()
    except SQLAlchemyError as exc:
        _fail(f"databasen kunne ikke opdateres (the database could not be upgraded): {exc}")
    print("praktikbot: databasen har det nyeste skema (the database has the newest schema)")
    return EXIT_OK


def _days(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} er ikke et antal dage (not a number of days, 0 or more)")
    return int(text)


def _owning(settings: Settings):
    """Embedded Chroma has one writer process: serving it holds the data dir's serving lock."""
    from ingest.lock import serving_lock

    return nullcontext() if settings.chroma_url else serving_lock(settings.data_dir)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.web.app import create_app
    from ingest.lock import IndexBusyError

    settings = _writable_settings()
    try:
        with _owning(settings):
            runtime = _runtime(settings)
            if settings.audit_days is not None:  # the retention holds from the start, not from a first purge
                _purge(runtime.records, settings.audit_days)
            uvicorn.run(create_app(runtime), host=args.host, port=args.port, log_level="info")
    except IndexBusyError as exc:
        _fail(str(exc))
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    """The one writer: owns the knowledge dir, ingests it at start, then runs the jobs the admin API and
    the replicas queue, and serves /healthz and the admin API."""
    import uvicorn

    from bot.web.app import create_worker_app
    from ingest.lock import IndexBusyError

    settings = _writable_settings()
    if not settings.knowledge_dir.is_dir():
        _fail(f"vidensmappen {settings.knowledge_dir} findes ikke; worker-processen ejer den "
              "(the worker owns the knowledge dir: set PRAKTIKBOT_KNOWLEDGE_DIR)")
    try:
        with _owning(settings):
            runtime = _runtime(settings, role="worker")
            runtime.start()
            runtime.submit("reingest")  # the index follows the knowledge dir from the start
            uvicorn.run(create_worker_app(runtime), host=args.host, port=args.port, log_level="info")
    except IndexBusyError as exc:
        _fail(str(exc))
    return EXIT_OK


def cmd_slack(args: argparse.Namespace) -> int:
    from bot.slack.socket import run_socket_mode
    from ingest.lock import IndexBusyError

    settings = _writable_settings()
    if not (settings.slack_bot_token and settings.slack_app_token):
        _fail("Socket Mode kræver SLACK_BOT_TOKEN og SLACK_APP_TOKEN (Socket Mode needs both tokens)")
    try:
        with _owning(settings):
            run_socket_mode(_runtime(settings))
    except IndexBusyError as exc:
        _fail(str(exc))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="praktikbot", description="Praktikbot: svar med kildehenvisninger "
                                     "om virksomhedspraktik (answers with citations)")
    parser.add_argument("-v", "--verbose", action="store_true", help="vis log (show logs on stderr)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest", help="indlæs vidensmappen i indekset (sync the knowledge dir)")
    p.add_argument("paths", nargs="*", help="filer eller mapper i vidensmappen (default: hele mappen)")
    p.add_argument("--rebuild", action="store_true", help="byg indekset forfra (rebuild from scratch)")
    p.add_argument("--json", action="store_true", help="skriv rapporten som JSON på stdout")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("ask", help="stil et spørgsmål (answer one question)")
    p.add_argument("question")
    p.add_argument("--as-of", help="svar efter reglerne pr. en dato, fx 2019-06-01 eller 1.6.2019 "
                                   "(answer for the rules in force on a date)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("serve", help="web og HTTP API (web page and HTTP API)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("worker", help="indlæsning og admin-API: den ene skriver (the one writer: ingest jobs "
                                      "and the admin API)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8002)
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("slack", help="Slack-bot i Socket Mode")
    p.set_defaults(func=cmd_slack)
    p = sub.add_parser("eval", help="kvalitet og svartider for et spørgsmålssæt (quality and latency)")
    p.add_argument("file", nargs="?", default="evals/bank",
                   help="en .jsonl-fil eller en mappe af dem (default: evals/bank, the question bank)")
    p.add_argument("--fit", action="store_true",
                   help="tilpas svarmodellen på tune-delen først (fit the answer model on the tune split)")
    p.add_argument("--english-bridge", choices=["glossary", "none"], default="glossary",
                   help="med --fit: hvordan engelske ord når danske kilder (how English reaches Danish)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("purge", help="slet gamle svar fra revisionsloggen (delete old answers from the audit log)")
    p.add_argument("--days", type=_days, help="behold så mange dage (keep this many days; "
                                               "default: PRAKTIKBOT_AUDIT_DAYS)")
    p.set_defaults(func=cmd_purge)
    p = sub.add_parser("db", help="databasen (the database of the audit log, feedback and jobs)")
    p.add_argument("action", choices=["upgrade"], help="upgrade: opdater skemaet (migrate to the newest schema)")
    p.set_defaults(func=cmd_db)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)  # on the handler: libraries such as bm25s set their own loggers to DEBUG
    logging.basicConfig(level=level, handlers=[handler], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(args.func(args))
