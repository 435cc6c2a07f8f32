"""Archive-scale batch conversion on Dask distributed (issue 24, docs/batch.md).

``image_batch [options] OUTPUT INPUT...`` (or :func:`run` from Python) plans
one task per exam (a sub-folder of an input folder, a zip file, or a line of a
list given with ``--inputs-from``), splits very large exams per series, and
runs the tasks on an embedded ``LocalCluster`` sized to the machine or on an
existing scheduler (``--scheduler ADDRESS``). Each task is one call of the C
conversion (``imagedata._native.convert``: ``imd_read_each`` + ``imd_write``
with the GIL released, image_data's layout and names), so the exam written to
``OUTPUT/<exam>`` is what ``image_data [options] OUTPUT/<exam> EXAM`` writes.

Bookkeeping: ``OUTPUT/manifest.jsonl`` has one row per series (input, outputs,
shape, order, status written/skipped/failed, error code and message,
seconds). Outputs are written under ``OUTPUT/.image_batch/`` and moved into
place when the exam is complete; a re-run skips exams the manifest records as
complete whose inputs (size and modification time, or content with
``--hash``) and options did not change, and converts the others again.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
import uuid

from . import _native
from .formats import ERROR_CODE_NAMES, ImagedataError

MANIFEST = 'manifest.jsonl'
STAGING = '.image_batch'

# docs/cli.md "Exit codes" (cli/cli_common.c imd_cli_exit_code).
EXIT_OK, EXIT_USAGE, EXIT_NO_DATA, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 8, 130
_EXIT_OF_ERROR = {2: 1, 12: 1, 6: 2, 9: 2, 7: 3, 4: 4, 8: 4, 5: 5, 3: 6, 10: 7, 11: 7,
                  1: 70, 13: 70, 14: 70, 15: 130}


class UsageError(Exception):
    """Bad options or inputs: exit 1 (or ``code``)."""

    def __init__(self, message, code=EXIT_USAGE):
        super().__init__(message)
        self.code = code


# ---- the conversion settings: image_data's options ---------------------------

class Settings:
    """What every task converts with: image_data's options, already split into
    the library's options, the series attributes and the write settings."""

    # image_data's flags stored under the original's option names (cli/image_data.c).
    LIBRARY = {'order': 'input_order', 'template': 'template', 'geometry': 'geometry',
               'input_serinsuid': 'input_serinsuid', 'input_acquisition': 'input_acquisition',
               'input_echo': 'input_echo', 'input_format': 'input_format',
               'calling_aet': 'calling_aet', 'psopt': 'psopt', 'ts': 'output_transfer_syntax',
               'sort': 'output_sort', 'odir': 'output_dir', 'input_sort': 'input_sort'}
    ATTRIBUTES = ('sernum', 'serdes', 'imagetype', 'frame', 'SOPClassUID')

    def __init__(self, formats=(), options=(), attributes=(), name=None, dtype=None,
                 threads=0, memory_limit=0, plugins=()):
        self.formats = list(formats)
        self.options = [(str(k), str(v)) for k, v in options]
        self.attributes = [(str(k), str(v)) for k, v in attributes]
        self.name = name
        self.dtype = dtype
        self.threads = int(threads)          # 0: the worker's thread count
        self.memory_limit = int(memory_limit)  # 0: 80 % of the worker's memory, as the CLIs
        self.plugins = [os.path.abspath(p) for p in plugins]

    @classmethod
    def from_args(cls, args):
        options, attributes = [], []
        for flag, key in cls.LIBRARY.items():
            value = getattr(args, flag, None)
            if value is not None:
                options.append((key, value))
        if args.no_gzip:
            options.append(('gzip', 'false'))
        if args.headers_only:
            options.append(('headers_only', 'true'))
        for pair in args.input_options or ():
            key, sep, value = pair.partition('=')
            if not sep or not key:
                raise UsageError(f'--input_options {pair}: expected KEY=VALUE')
            if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                value = value[1:-1]  # one pair of quotes, as the original's literal-eval
            options.append((key, value))
        for key in cls.ATTRIBUTES:
            value = getattr(args, key, None)
            if value is not None:
                attributes.append((key, value))
        if args.name is not None and (args.name == '' or args.name.startswith('/')
                                      or '..' in args.name):
            raise UsageError(f'--name {args.name}: a relative pattern without ".." is needed')
        return cls(args.of or (), options, attributes, args.name, args.dtype, args.threads,
                   args.memory_limit, args.plugin or ())

    def digest(self):
        """What a re-run compares: other options make other outputs."""
        text = json.dumps([self.formats, self.options, self.attributes, self.name, self.dtype],
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def check(self, scratch):
        """Let the library judge the options before anything is planned (an
        unknown key or a bad value is a usage error, exit 1, as for
        image_data): a convert of an input that does not exist fails on the
        options first, and else on that input (NOT_FOUND)."""
        probe = os.path.join(scratch, 'no-such-input-' + uuid.uuid4().hex)
        try:
            _native.convert([probe], os.path.join(scratch, 'out'), self.formats, self.options,
                            self.attributes, self.name, self.dtype, False, 1, 0, self.plugins)
        except ImagedataError as exc:
            if exc.code == 9 and probe in exc.message:
                return
            raise UsageError(exc.message, _EXIT_OF_ERROR.get(exc.code, EXIT_USAGE)) from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None


# ---- planning ----------------------------------------------------------------

def _is_zip(path):
    return path.lower().endswith('.zip') and os.path.isfile(path)


def _exam_name(path):
    base = os.path.basename(os.path.normpath(path))
    return base[:-4] if base.lower().endswith('.zip') else base


def _files_of(path):
    """The regular files of an exam, sorted, as (relative path, stat)."""
    if os.path.isfile(path):
        return [(os.path.basename(path), os.stat(path))]
    found = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            if not os.path.isfile(full):
                continue
            found.append((os.path.relpath(full, path), st))
    return found


def fingerprint(path, content=False):
    """(bytes, fingerprint) of an exam: sizes and modification times of its
    files, or with `content` their SHA-256 (slower: every byte is read)."""
    digest = hashlib.sha256()
    total = 0
    for rel, st in _files_of(path):
        total += st.st_size
        digest.update(rel.encode('utf-8', 'surrogateescape') + b'\0')
        if content:
            full = path if os.path.isfile(path) else os.path.join(path, rel)
            with open(full, 'rb') as f:
                for block in iter(lambda: f.read(1 << 20), b''):
                    digest.update(block)
        else:
            digest.update(f'{st.st_size}:{st.st_mtime_ns}\n'.encode())
    return total, ('sha256:' if content else 'stat:') + digest.hexdigest()[:32]


def find_exams(inputs, inputs_from=(), warn=None):
    """[(name, path)]: the exams of `inputs` (a folder's sub-folders and zips,
    a folder without either is one exam, a zip is one exam), then of the list
    files (one exam path a line, relative to the list's folder; # comments);
    names made unique in that order with _2, _3."""
    warn = warn or (lambda message: None)
    paths = []
    for item in inputs:
        if not os.path.exists(item):
            raise UsageError(f'{item}: no such file or folder', EXIT_NO_DATA)
        item = os.path.abspath(item)
        if os.path.isfile(item):
            paths.append(item)
            continue
        entries = sorted(os.listdir(item))
        exams = [os.path.join(item, e) for e in entries
                 if os.path.isdir(os.path.join(item, e)) or _is_zip(os.path.join(item, e))]
        if not exams:
            paths.append(item)
            continue
        for e in entries:
            full = os.path.join(item, e)
            if full not in exams and not e.startswith('.'):
                warn(f'{full}: not a folder or zip among exams: left out')
        paths.extend(exams)
    for listing in inputs_from:
        base = os.path.dirname(os.path.abspath(listing))
        try:
            with open(listing, encoding='utf-8') as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise UsageError(f'{listing}: cannot read the input list: {exc.strerror}') from None
        for line in lines:
            line = line.strip()
            if line and not line.startswith('#'):
                path = os.path.join(base, line)
                if not os.path.exists(path):
                    raise UsageError(f'{listing}: {line}: no such file or folder', EXIT_NO_DATA)
                paths.append(os.path.abspath(path))
    named, used = [], set()
    for path in paths:
        name, n = _exam_name(path), 2
        candidate = name
        while candidate in used:
            candidate = f'{name}_{n}'
            n += 1
        used.add(candidate)
        named.append((candidate, path))
    return named


def _series_uids(path, settings):
    """The SeriesInstanceUIDs of an exam, from a headers-only read in the client."""
    pairs = [p for p in settings.options if p[0] not in ('template', 'geometry')]
    pairs.append(('headers_only', 'true'))
    handles, _failures = _native.read([path], pairs)
    uids = []
    for h in handles:
        uid = _native.get(h, 'SeriesInstanceUID')
        if uid and uid not in uids:
            uids.append(uid)
    return uids


class Task:
    """One unit of work: an exam, or one series of a split exam."""

    def __init__(self, exam, path, fingerprint, size, series_uid=None, parts=1):
        self.exam, self.path, self.fingerprint, self.size = exam, path, fingerprint, size
        self.series_uid, self.parts = series_uid, parts

    @property
    def key(self):
        return self.exam if self.series_uid is None else f'{self.exam}#{self.series_uid}'


def plan(exams, settings, split_size, content_hash=False, previous=None, output=None,
         force=False, warn=None):
    """(tasks, skipped rows): the tasks to run and the previous rows of the
    exams that are up to date."""
    warn = warn or (lambda message: None)
    tasks, skipped = [], []
    digest = settings.digest()
    for name, path in exams:
        size, fp = fingerprint(path, content_hash)
        rows = (previous or {}).get(name)
        if not force and _complete(rows, fp, digest, output):
            skipped.extend(rows)
            continue
        uids = []
        if (split_size and size > split_size and not os.path.isfile(path)
                and not any(k == 'input_serinsuid' for k, _ in settings.options)):
            try:
                uids = _series_uids(path, settings)
            except ImagedataError as exc:
                warn(f'{path}: not split ({exc.message})')
        if len(uids) > 1:
            tasks.extend(Task(name, path, fp, size, uid, len(uids)) for uid in uids)
        else:
            tasks.append(Task(name, path, fp, size))
    return tasks, skipped


def _complete(rows, fp, digest, output):
    """The previous rows say the exam was converted from these inputs with
    these options, every task of it, and its outputs are still there."""
    if not rows:
        return False
    if any(r.get('status') not in ('written', 'skipped') or r.get('fingerprint') != fp
           or r.get('settings') != digest for r in rows):
        return False
    if len({r.get('task') for r in rows}) != rows[0].get('tasks', 1):
        return False
    return all(os.path.isfile(os.path.join(output, f)) for r in rows for f in r.get('outputs', ()))


# ---- the manifest -------------------------------------------------------------

def read_manifest(path):
    """{exam: rows of its latest run} from a manifest (later lines win; a
    torn last line, from a client killed while appending, is ignored)."""
    latest = {}
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return {}
    for line in lines:
        try:
            row = json.loads(line)
            exam, run_id = row['exam'], row['run']
        except (ValueError, KeyError, TypeError):
            continue
        held = latest.get(exam)
        if held is None or held[0] != run_id:
            latest[exam] = (run_id, [row])
        else:
            held[1].append(row)
    return {exam: rows for exam, (_, rows) in latest.items()}


def _write_manifest(path, exams_rows):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        for rows in exams_rows:
            for row in rows:
                f.write(json.dumps(row, sort_keys=True) + '\n')
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---- the task (runs on a worker) ------------------------------------------------

_locks_lock = threading.Lock()
_convert_locks = {}


def _worker_slot():
    """(lock, threads) of the Dask worker running us: a worker converts one
    exam at a time with all its threads in C (several tasks of one worker
    would only share the same cores). Workers of a LocalCluster in threads
    share this process: one lock each. Outside a worker: one lock, 1 thread."""
    try:
        from distributed import get_worker
        worker = get_worker()
        state = getattr(worker, 'state', None)
        threads = int(getattr(state, 'nthreads', None) or worker.nthreads)
        key = worker.address
    except (ImportError, ValueError, AttributeError):
        threads, key = 1, None
    with _locks_lock:
        lock = _convert_locks.setdefault(key, threading.Lock())
    return lock, threads


def _memory_default():
    try:
        return int(os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') * 0.8)
    except (ValueError, OSError):
        return 0


def _outputs_of(url, formats, files):
    """The files (relative) a series written to `url` (relative) made."""
    names = {url.replace('%p', f) for f in (formats or ['dicom'])}
    found = []
    for f in files:
        for n in names:
            if f == n or f.startswith(n + '.') or f.startswith(n + '/'):
                found.append(f)
                break
    return found


def convert_task(task, settings, output, run_dir, run_id):
    """Convert one task into a private staging folder, then move its files into
    OUTPUT: every file appears whole (os.replace) or not at all. Returns the
    manifest rows. Library errors become failed rows, not exceptions: only
    an unexpected error (a full disk while moving) is retried by Dask."""
    started = time.monotonic()
    stage = os.path.join(run_dir, f'{uuid.uuid4().hex}')
    os.makedirs(stage)
    row = {'exam': task.exam, 'input': task.path, 'task': task.key, 'tasks': task.parts,
           'fingerprint': task.fingerprint, 'settings': settings.digest(), 'run': run_id,
           'outputs': [], 'shape': None, 'order': None, 'code': 0, 'code_name': None,
           'error': None, 'warnings': []}
    rows = []
    try:
        if os.path.exists(os.path.join(run_dir, 'cancel')):
            raise _Cancelled()
        options = list(settings.options)
        if task.series_uid is not None:
            options.append(('input_serinsuid', task.series_uid))
        lock, threads = _worker_slot()
        threads = settings.threads or threads
        delay = float(os.environ.get('IMAGEDATA_BATCH_TEST_DELAY', '0') or 0)
        with lock:
            try:
                result = _native.convert([task.path], os.path.join(stage, task.exam),
                                         settings.formats, options, settings.attributes,
                                         settings.name, settings.dtype, task.series_uid is not None,
                                         threads, settings.memory_limit or _memory_default(),
                                         settings.plugins)
            except ImagedataError as exc:
                result = exc
            if delay > 0:
                time.sleep(delay)  # tests only: a window to kill the worker mid-task
        seconds = round(time.monotonic() - started, 3)
        if isinstance(result, ImagedataError):
            if result.code == 15:
                raise _Cancelled()
            rows.append(dict(row, status='failed', code=result.code,
                             code_name=ERROR_CODE_NAMES.get(result.code), error=result.message,
                             seconds=seconds))
            return rows
        files = []
        for root, _dirs, names in os.walk(stage):
            files.extend(os.path.relpath(os.path.join(root, n), stage) for n in names)
        files.sort()
        warnings = result['warnings']
        if result['warning_count'] > len(warnings):
            warnings = warnings + [f'... {result["warning_count"] - len(warnings)} more']
        for url, shape, order in result['written']:
            outs = _outputs_of(os.path.relpath(url, stage), settings.formats, files)
            rows.append(dict(row, status='written', outputs=outs, shape=list(shape), order=order,
                             warnings=warnings, skipped_inputs=result['skipped'],
                             seconds=seconds))
        for code, message, url in result['failed']:
            rows.append(dict(row, status='failed', code=code, code_name=ERROR_CODE_NAMES.get(code),
                             error=message, warnings=warnings, seconds=seconds))
        if os.path.exists(os.path.join(run_dir, 'cancel')):
            raise _Cancelled()
        for f in files:  # each file whole, or not at all (rename(2) is atomic)
            target = os.path.join(output, f)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(os.path.join(stage, f), target)
        return rows
    finally:
        shutil.rmtree(stage, ignore_errors=True)


class _Cancelled(Exception):
    pass


# ---- running -------------------------------------------------------------------

class Result:
    """What run() returns: the exit code, the counts and the rows of this run."""

    def __init__(self):
        self.code = EXIT_OK
        self.rows = []
        self.exams = self.converted = self.skipped = self.failed = 0
        self.series_written = self.series_failed = 0
        self.seconds = 0.0
        self.dashboard = None


def _progress(total, enabled):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit='exam', file=sys.stderr, dynamic_ncols=True)


def _dashboard(client):
    """The dashboard's address when there is one. The scheduler serves its
    HTTP routes either way, and the dashboard only with bokeh (Debian:
    python3-bokeh); without it the page says so, and we say nothing."""
    try:
        import urllib.request
        link = client.dashboard_link
        with urllib.request.urlopen(link, timeout=2) as answer:
            page = answer.read(4096)
        return None if b'needs bokeh' in page else link
    except Exception:
        return None


def _start_cluster(workers, threads_per_worker, retries, processes):
    import dask
    from distributed import Client, LocalCluster
    dask.config.set({'distributed.scheduler.allowed-failures': retries})
    # memory_limit=0: the library refuses images over its own limit with a
    # clear error, where Dask's nanny would kill the worker.
    if processes:
        # Loopback only: the embedded cluster serves this process, not the
        # network; port 0 everywhere (the scheduler's HTTP server too, which
        # Dask starts on 8787 otherwise).
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                               processes=True, host='127.0.0.1', scheduler_port=0,
                               dashboard_address='127.0.0.1:0', memory_limit=0, silence_logs=50)
    else:
        # Workers as threads of this process (the conversion runs in C
        # without the GIL): no processes to start, no network but the
        # dashboard's HTTP server, on loopback.
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                               processes=False, dashboard_address='127.0.0.1:0', memory_limit=0,
                               silence_logs=50)
    return cluster, Client(cluster)


def run(output, inputs=(), settings=None, inputs_from=(), scheduler=None, workers=None,
        threads_per_worker=1, retries=3, split_size=2 << 30, content_hash=False, force=False,
        dry_run=False, progress=None, dashboard=True, log=None, processes=False, verbose=False):
    """Convert every exam of `inputs` into `output` (see the module's text and
    docs/batch.md); returns a Result (code 0, or 8 when anything failed)."""
    log = log or (lambda message: print(f'image_batch: {message}', file=sys.stderr))
    settings = settings or Settings()
    output = os.path.abspath(output)
    result = Result()
    started = time.monotonic()
    exams = find_exams(inputs, inputs_from, warn=lambda m: log(f'warning: {m}'))
    if not exams:
        raise UsageError('no exams found in the inputs', EXIT_NO_DATA)
    os.makedirs(output, exist_ok=True)
    staging = os.path.join(output, STAGING)
    os.makedirs(staging, exist_ok=True)
    lock = _lock(staging)
    try:
        return _run_locked(output, staging, exams, settings, scheduler, workers,
                           threads_per_worker, retries, split_size, content_hash, force, dry_run,
                           progress, dashboard, log if verbose else None, result, started,
                           processes, log)
    finally:
        os.close(lock)
        try:
            os.unlink(os.path.join(staging, 'lock'))
            os.rmdir(staging)
        except OSError:
            pass


def _lock(staging):
    """One run per OUTPUT at a time: two would clean each other's staging."""
    import fcntl
    fd = os.open(os.path.join(staging, 'lock'), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UsageError(f'{os.path.dirname(staging)}: another image_batch run is writing '
                         'there') from None
    return fd


def _run_locked(output, staging, exams, settings, scheduler, workers, threads_per_worker,
                retries, split_size, content_hash, force, dry_run, progress, dashboard, info,
                result, started, processes, log):
    settings.check(staging)
    manifest = os.path.join(output, MANIFEST)
    previous = read_manifest(manifest)
    tasks, skipped_rows = plan(exams, settings, split_size, content_hash, previous, output, force,
                               warn=lambda m: log(f'warning: {m}'))
    result.exams = len(exams)
    run_id = time.strftime('%Y%m%dT%H%M%S') + '-' + uuid.uuid4().hex[:8]
    if dry_run:
        skipped_exams = sorted({r['exam'] for r in skipped_rows})
        for t in tasks:
            what = f' series {t.series_uid}' if t.series_uid else ''
            print(f'convert {t.path}{what} -> {os.path.join(output, t.exam)} ({t.size} bytes)')
        for exam in skipped_exams:
            print(f'skip {exam}: up to date in {manifest}')
        print(f'{len(tasks)} task(s) for {len({t.exam for t in tasks})} exam(s), '
              f'{len(skipped_exams)} exam(s) up to date')
        return result
    # A previous run killed outright may have left staging folders: none of
    # their files reached OUTPUT, so they go (one client per OUTPUT at a time).
    for entry in os.listdir(staging):
        if entry != 'lock':
            shutil.rmtree(os.path.join(staging, entry), ignore_errors=True)
    run_dir = os.path.join(staging, run_id)
    os.makedirs(run_dir)
    skipped_by_exam = {}
    for r in skipped_rows:
        skipped_by_exam.setdefault(r['exam'], []).append(dict(r, status='skipped', run=run_id))
    done_rows = {}
    bar = _progress(len(tasks), sys.stderr.isatty() if progress is None else progress)
    cluster = client = None
    interrupted = False
    try:
        with open(manifest, 'a', encoding='utf-8') as journal:
            if tasks:
                if scheduler:
                    from distributed import Client
                    client = Client(scheduler)
                else:
                    n = workers or os.cpu_count() or 1
                    cluster, client = _start_cluster(n, threads_per_worker, retries, processes)
                result.dashboard = _dashboard(client) if dashboard else None
                if result.dashboard:
                    log(f'dashboard: {result.dashboard}')
                interrupted = _run_tasks(client, tasks, settings, output, run_dir, run_id,
                                         retries, journal, done_rows, bar, log, previous, info)
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        shutil.rmtree(run_dir, ignore_errors=True)
    # The manifest again, compact: the rows of this run, and the latest rows
    # of every exam this run did not touch (skipped, or not among the inputs).
    final = dict(previous)
    final.update(skipped_by_exam)
    final.update(done_rows)
    _write_manifest(manifest, final.values())
    result.rows = [r for rows in list(skipped_by_exam.values()) + list(done_rows.values())
                   for r in rows]
    result.skipped = len(skipped_by_exam)
    for exam, rows in done_rows.items():
        if any(r['status'] == 'failed' for r in rows):
            result.failed += 1
        else:
            result.converted += 1
    result.series_written = sum(r['status'] == 'written' for r in result.rows)
    result.series_failed = sum(r['status'] == 'failed' for r in result.rows)
    partial = any(r.get('skipped_inputs') for rows in done_rows.values() for r in rows)
    result.seconds = time.monotonic() - started
    if interrupted:
        result.code = EXIT_INTERRUPTED
    elif result.failed or result.series_failed or partial:
        result.code = EXIT_PARTIAL
    return result


def _finish_exam(rows, old_rows, output):
    """An exam whose tasks are all done: series of a split exam that got the
    same name (each task names its series alone) are failed, not silently
    overwritten; the files of the exam's previous conversion that this one
    did not write again go."""
    owner = {}
    for r in rows:
        for f in r['outputs']:
            if f in owner and owner[f] is not r:
                for clash in (owner[f], r):
                    clash.update(status='failed', code=2, code_name=ERROR_CODE_NAMES[2],
                                 error=f'{f}: two series of the split exam {r["exam"]} have this '
                                       'name (use --name with %s, or --split-size 0)')
            owner[f] = r
    kept = set(owner)
    for old in old_rows or ():
        for f in old.get('outputs', ()):
            if f not in kept:
                try:
                    os.unlink(os.path.join(output, f))
                except OSError:
                    pass
    return rows


def _run_tasks(client, tasks, settings, output, run_dir, run_id, retries, journal, done_rows,
               bar, log, previous, info=None):
    """Submit, collect, journal; True when interrupted (Ctrl-C)."""
    from distributed import as_completed
    # One map, not a submit per task: Dask records the caller's source code
    # for every computation (inspect.getsource), ~2 ms a call.
    n = len(tasks)
    mapped = client.map(convert_task, tasks, [settings] * n, [output] * n, [run_dir] * n,
                        [run_id] * n, retries=retries, pure=False,
                        key=[f'image_batch-{run_id}-{t.key}' for t in tasks])
    futures = dict(zip(mapped, tasks))
    by_exam = {}
    for t in tasks:
        by_exam.setdefault(t.exam, []).append(t)
    partial_rows = {}
    try:
        for future in as_completed(futures):
            t = futures[future]
            try:
                rows = future.result()
            except Exception as exc:  # retries exhausted, or the worker died too often
                rows = [{'exam': t.exam, 'input': t.path, 'task': t.key, 'tasks': t.parts,
                         'fingerprint': t.fingerprint, 'settings': settings.digest(),
                         'run': run_id, 'outputs': [], 'shape': None, 'order': None,
                         'status': 'failed', 'code': 13, 'code_name': ERROR_CODE_NAMES[13],
                         'error': f'{t.path}: task failed: {type(exc).__name__}: {exc}',
                         'warnings': [], 'seconds': None}]
            for r in rows:
                journal.write(json.dumps(r, sort_keys=True) + '\n')
            journal.flush()
            partial_rows.setdefault(t.exam, []).extend(rows)
            if len({r['task'] for r in partial_rows[t.exam]}) == len(by_exam[t.exam]):
                done_rows[t.exam] = _finish_exam(partial_rows.pop(t.exam), previous.get(t.exam),
                                                 output)
            if info is not None:
                written = sum(r['status'] == 'written' for r in rows)
                message = (f'{t.key}: {written} series written, {len(rows) - written} failed '
                           f'({rows[0].get("seconds")} s)')
                bar.write(f'image_batch: {message}', file=sys.stderr) if bar else info(message)
            for r in rows:
                if r['status'] == 'failed':
                    message = f'{t.exam} ({t.path}): {r["error"]} ({r["code_name"]})'
                    if bar is not None:
                        bar.write(f'image_batch: {message}', file=sys.stderr)
                    else:
                        log(message)
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        # Tasks not started are cancelled; running ones see the cancel file
        # and leave nothing in OUTPUT; on an embedded cluster the workers stop.
        with open(os.path.join(run_dir, 'cancel'), 'w'):
            pass
        _native.cancel_converts()  # workers that are threads of this process stop at once
        client.cancel(list(futures))
        done_rows.update(partial_rows)
        return True
    done_rows.update(partial_rows)
    return False


# ---- the command line ------------------------------------------------------------

def _size(text):
    units = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
    text = text.strip().upper()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, '')
    try:
        value = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{text}" is not a size (e.g. 8G)') from None
    if value < 0:
        raise argparse.ArgumentTypeError(f'"{text}" is not a size (e.g. 8G)')
    return value


def _threads(text):
    if not text.isdigit() or int(text) > 256:
        raise argparse.ArgumentTypeError(
            f'"{text}" is not a number of threads (1 to 256, or 0 for the worker\'s)')
    return int(text)


def parser():
    p = argparse.ArgumentParser(
        prog='image_batch', allow_abbrev=False,
        description='Convert every exam of the inputs with image_data\'s options on Dask '
                    'distributed: OUTPUT/<exam> is what "image_data OUTPUT/<exam> EXAM" writes. '
                    'An exam is a sub-folder or zip of an INPUT folder (a folder with neither '
                    'is one exam), a zip INPUT, or a line of --inputs-from.',
        epilog='Exit codes: 0 every exam converted or up to date; 1 usage; 2 no inputs; 8 '
               'something failed (see OUTPUT/manifest.jsonl); 130 interrupted. docs/batch.md')
    p.add_argument('output', metavar='OUTPUT')
    p.add_argument('inputs', metavar='INPUT', nargs='*')
    b = p.add_argument_group('batch')
    b.add_argument('--inputs-from', action='append', default=[], metavar='FILE',
                   help='a file listing exams (folders or zips), one a line; repeatable')
    b.add_argument('--scheduler', metavar='ADDRESS',
                   help='a running Dask scheduler (tcp://host:8786) [an embedded LocalCluster]')
    b.add_argument('--workers', type=int, metavar='N',
                   help='LocalCluster worker processes [one per core]')
    b.add_argument('--threads-per-worker', type=int, default=1, metavar='N',
                   help='LocalCluster threads per worker, the threads each conversion uses [1]')
    b.add_argument('--processes', action='store_true',
                   help='LocalCluster workers as processes (a crash in one does not end the '
                        'run), not threads of this process')
    b.add_argument('--retries', type=int, default=3, metavar='N',
                   help='times a task is run again after its worker died or it raised [3]')
    b.add_argument('--split-size', type=_size, default=2 << 30, metavar='SIZE',
                   help='exams larger than SIZE are converted one task per series; 0: never [2G]')
    b.add_argument('--hash', action='store_true',
                   help='decide what changed by content (SHA-256), not size and mtime')
    b.add_argument('--force', action='store_true', help='convert every exam, even up to date')
    b.add_argument('--dry-run', action='store_true', help='print the plan, convert nothing')
    b.add_argument('--no-progress', action='store_true', help='no progress bar on a terminal')
    o = p.add_argument_group('conversion (as image_data, docs/cli.md)')
    o.add_argument('--of', action='append', metavar='FORMAT', help='output format, repeatable')
    o.add_argument('--sort', choices=('slice', 'tag'))
    o.add_argument('--odir', choices=('single', 'multi'))
    o.add_argument('--dtype')
    o.add_argument('--name', metavar='PATTERN')
    o.add_argument('--no-gzip', action='store_true')
    o.add_argument('--ts', metavar='SYNTAX')
    o.add_argument('--order')
    o.add_argument('--input_options', action='append', metavar='K=V')
    o.add_argument('--input_format')
    o.add_argument('--input_serinsuid')
    o.add_argument('--input_echo')
    o.add_argument('--input_acquisition')
    o.add_argument('--input_sort', choices=('slice', 'tag'))
    o.add_argument('--input_shape')
    o.add_argument('--headers_only', action='store_true')
    o.add_argument('--template', metavar='URL')
    o.add_argument('--geometry', metavar='URL')
    o.add_argument('--sernum')
    o.add_argument('--serdes')
    o.add_argument('--imagetype')
    o.add_argument('--frame')
    o.add_argument('--SOPClassUID')
    o.add_argument('--calling_aet')
    o.add_argument('--psopt')
    o.add_argument('--plugin', action='append', metavar='PATH')
    o.add_argument('--memory-limit', type=_size, default=0, metavar='SIZE')
    o.add_argument('--threads', type=_threads, default=0, metavar='N',
                   help="threads per conversion [0: the worker's thread count]")
    o.add_argument('-v', '--verbose', action='store_true', help='a line per task done')
    return p


def _summary(result, output):
    rate = result.converted / result.seconds if result.seconds > 0 else 0.0
    return (f'{result.exams} exam(s): {result.converted} converted ({result.series_written} '
            f'series written), {result.skipped} up to date, {result.failed} failed '
            f'({result.series_failed} series); {result.seconds:.1f} s, {rate:.1f} exams/s; '
            f'manifest {os.path.join(output, MANIFEST)}')


def main(argv=None):
    args = parser().parse_args(argv)
    if args.template:
        args.template = os.path.abspath(args.template)
    if args.geometry:
        args.geometry = os.path.abspath(args.geometry)
    if args.dtype is not None and args.dtype not in ('uint8', 'uint16', 'int16', 'int', 'float',
                                                     'float32', 'float64', 'double'):
        print(f'image_batch: --dtype {args.dtype}: unknown type', file=sys.stderr)
        return EXIT_USAGE
    # Ctrl-C in the client: KeyboardInterrupt, handled by run(); a second one kills.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        settings = Settings.from_args(args)
        result = run(args.output, args.inputs, settings, inputs_from=args.inputs_from,
                     scheduler=args.scheduler, workers=args.workers,
                     threads_per_worker=args.threads_per_worker, retries=args.retries,
                     split_size=args.split_size, content_hash=args.hash, force=args.force,
                     dry_run=args.dry_run, progress=False if args.no_progress else None,
                     processes=args.processes, verbose=args.verbose)
    except UsageError as exc:
        print(f'image_batch: {exc}', file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print('image_batch: interrupted', file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.dry_run:
        print(f'image_batch: {_summary(result, os.path.abspath(args.output))}', file=sys.stderr)
    if result.code == EXIT_INTERRUPTED:
        print('image_batch: interrupted: converted exams are in the manifest, the others were '
              'cancelled', file=sys.stderr)
    return result.code


if __name__ == '__main__':
    # python -m imagedata.batch: run the importable module's main, so that the
    # tasks pickle by reference to imagedata.batch, not by value from __main__.
    from imagedata.batch import main as _main
    sys.exit(_main())
