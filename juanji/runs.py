"""Run folders of ``juanji train``: one run at a time in a folder, and resumes that continue
the options the run was started with.

A run holds an exclusive lock on ``RUN_DIR/.lock`` for its whole life (``flock``: the system
releases it when the process ends, even by SIGKILL, so no stale lock is ever left). Each
backup records the digest of the run's options; a resume whose ``args.json`` no longer
matches is refused, naming the fields that changed.
"""

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path

from juanji import saving
from juanji.data.utils import atomic_write

LOCK_NAME = ".lock"


class RunError(ValueError):
    """A run folder that cannot be used as asked: busy with another run, or edited."""


@contextlib.contextmanager
def locked(run_dir):
    """Hold the exclusive lock of ``run_dir`` (created if needed) while the block runs.

    Raises:
        RunError: at once, if another process holds it (naming that process's id).
    """
    os.makedirs(run_dir, exist_ok=True)
    fd = os.open(os.path.join(run_dir, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise RunError(
                f"'{run_dir}' is in use by another juanji train (process {holder}); wait for "
                "it to end, or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def options_digest(options):
    """The SHA-256 of the options (a JSON object), independent of their order."""
    text = json.dumps(options, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def backup_record(options):
    """What each backup of a run stores about its options: ``{"options", "options_sha256"}``."""
    return {"options": options, "options_sha256": options_digest(options)}


def check_resume(options, record, source, ignore=()):
    """Refuse to resume with ``options`` unless they are those ``record`` (a backup's extra)
    was made with, apart from the names in ``ignore``.

    Raises:
        RunError: naming each field that differs, its value then and now.
    """
    stored = record.get("options")
    if not isinstance(stored, dict) or record.get("options_sha256") != options_digest(stored):
        raise RunError(f"'{source}' does not record the options of its run; cannot resume it")
    kept = {k: v for k, v in options.items() if k not in ignore}
    then = {k: v for k, v in stored.items() if k not in ignore}
    if options_digest(kept) == options_digest(then):
        return
    changed = ", ".join(
        f"{name} (was {then.get(name)!r}, now {kept.get(name)!r})"
        for name in sorted(set(kept) | set(then))
        if kept.get(name) != then.get(name)
    )
    raise RunError(
        f"args.json no longer matches the run in '{source}': {changed}. A resume continues "
        "the run as it was started; start a new run (another --out) to change options, or "
        "pass --epochs N with --resume to train for longer"
    )


def resume_source(run_dir, options, epochs=None):
    """The backup that ``--resume`` continues, after checking it was made with ``options``.

    A stopped run continues from ``RUN_DIR/backup/backup.juanji``. A finished run (its
    ``model.juanji`` holds the same state) is continued only to a larger number of
    ``epochs`` (``--epochs N``): its model then becomes the backup.

    Raises:
        RunError: nothing to resume, a finished run without ``epochs``, ``epochs`` not above
            the epochs already trained, or options that differ from the run's (but for
            ``epochs`` when it is given).
    """
    run_dir = Path(run_dir)
    backup, final = run_dir / "backup" / "backup.juanji", run_dir / "model.juanji"
    source = backup if backup.is_file() else final
    if not source.is_file():
        raise RunError(
            f"nothing to resume in '{run_dir}': it has no backup (the run was stopped "
            "before its first epoch ended)"
        )
    if source == final and epochs is None:
        raise RunError(
            f"the run in '{run_dir}' finished; pass --epochs N with --resume to train it longer"
        )
    record = saving.read_extra(source)
    check_resume(options, record, source, ignore=() if epochs is None else ("epochs",))
    finished = record.get("finished_epochs")
    if epochs is not None and epochs <= finished:
        raise RunError(f"--epochs {epochs}: the run in '{run_dir}' is at epoch {finished} already")
    if source == final:
        backup.parent.mkdir(exist_ok=True)
        atomic_write(backup, final.read_bytes())
    return backup


__all__ = [
    "LOCK_NAME",
    "RunError",
    "backup_record",
    "check_resume",
    "locked",
    "options_digest",
    "resume_source",
]
