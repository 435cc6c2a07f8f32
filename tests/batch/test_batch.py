"""image_batch on Dask distributed (issue 24, docs/batch.md).

Run by tests/integration/batch.sh (CTest integration.batch_generated and
integration.batch_dcm_qa_dev), which installs the package in a venv and sets
IMD_BATCH_VENV, IMD_BUILD and IMD_BATCH_DATA. The oracle is image_data: each
exam converted alone by the CLI (`image_data --of nifti REF/<exam> EXAM`) must
give the same files, byte for byte, as the batch's OUTPUT/<exam>; nibabel
reads what was written. Every server (scheduler, workers) is started on
loopback by the test and stopped by it.
"""
import json
import os
import signal
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

VENV = Path(os.environ.get('IMD_BATCH_VENV', sys.prefix))
BUILD = Path(os.environ.get('IMD_BUILD', '.'))
DATA = Path(os.environ.get('IMD_BATCH_DATA', '/nonexistent'))
IMAGE_BATCH = VENV / 'bin' / 'image_batch'
PYTHON = VENV / 'bin' / 'python'
IMAGE_DATA = BUILD / 'cli' / 'image_data'
MAKE_SERIES = BUILD / 'examples' / 'make_dicom_series'


# ---- helpers -------------------------------------------------------------------

def batch(*args, env=None, timeout=600):
    full = dict(os.environ, **(env or {}))
    return subprocess.run([str(IMAGE_BATCH), '--no-progress', *map(str, args)], env=full,
                          capture_output=True, text=True, timeout=timeout)


def tree(folder):
    """{relative path: bytes} of the files under `folder`, the manifest left out."""
    folder = Path(folder)
    found = {}
    for path in sorted(folder.rglob('*')):
        if path.is_file() and path.name != 'manifest.jsonl':
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def cli_reference(exams, ref, *options):
    """The oracle: image_data on each exam alone. Returns {exam: exit code}."""
    codes = {}
    for name, path in exams:
        done = subprocess.run([str(IMAGE_DATA), *options, str(Path(ref) / name), str(path)],
                              capture_output=True, text=True, timeout=600)
        codes[name] = done.returncode
    return codes


def assert_same_as_cli(out, ref):
    ours, theirs = tree(out), tree(ref)
    assert sorted(ours) == sorted(theirs), (sorted(set(ours) ^ set(theirs)))
    different = [name for name in ours if ours[name] != theirs[name]]
    assert not different, f'files differ from image_data\'s: {different}'


def manifest(out):
    with open(Path(out) / 'manifest.jsonl', encoding='utf-8') as f:
        return [json.loads(line) for line in f]


def assert_manifest_complete(out, exams, failed=(), statuses=('written',)):
    """One row per series: every exam has rows, every output file is in
    exactly one row that exists, failed exams carry the code and message, and
    nothing else is in OUTPUT (no partial or temporary files)."""
    rows = manifest(out)
    by_exam = {}
    for r in rows:
        by_exam.setdefault(r['exam'], []).append(r)
    assert sorted(by_exam) == sorted(name for name, _ in exams)
    listed = []
    for name, path in exams:
        exam_rows = by_exam[name]
        assert all(r['input'] == os.path.abspath(path) for r in exam_rows)
        if name in failed:
            assert any(r['status'] == 'failed' for r in exam_rows), exam_rows
            for r in exam_rows:
                if r['status'] == 'failed':
                    assert r['code'] > 0 and r['code_name'].startswith('IMD_ERR_')
                    assert r['error'], r
        else:
            for r in exam_rows:
                assert r['status'] in statuses, r
                assert r['outputs'] and r['shape'] and r['order'], r
                assert isinstance(r['seconds'], float)
        for r in exam_rows:
            listed.extend(r['outputs'])
    assert len(listed) == len(set(listed)), 'a file in two rows'
    assert sorted(listed) == sorted(tree(out)), 'files in OUTPUT that the manifest does not list'
    assert not (Path(out) / '.image_batch').exists(), 'staging left behind'
    return rows


def make_series(folder, times, slices=4, size=32):
    folder.mkdir(parents=True)
    subprocess.run([str(MAKE_SERIES), str(folder), str(times), str(slices), str(size)],
                   check=True, capture_output=True)


class Cluster:
    """A Dask scheduler and two worker processes started on loopback, as a
    user starts them (dask-scheduler, dask-worker), stopped on exit."""

    def __init__(self, folder, workers=2, env=None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, **(env or {}))
        self.count = workers
        self.workers = []
        self.scheduler = None

    def __enter__(self):
        info = self.folder / 'scheduler.json'
        self.scheduler = subprocess.Popen(
            [str(PYTHON), '-m', 'distributed.cli.dask_scheduler', '--host', '127.0.0.1',
             '--port', '0', '--dashboard-address', '127.0.0.1:0', '--scheduler-file', str(info)],
            env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(self.folder / 'scheduler.log', 'w'))
        deadline = time.monotonic() + 120
        while not info.exists() or not info.read_text().strip():
            assert time.monotonic() < deadline, 'the scheduler did not start'
            assert self.scheduler.poll() is None, (self.folder / 'scheduler.log').read_text()
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written whole, then read whole
        self.address = json.loads(info.read_text())['address']
        assert self.address.startswith('tcp://127.0.0.1:')
        for i in range(self.count):
            # --no-nanny: a worker killed stays dead (a nanny would restart it).
            self.workers.append(subprocess.Popen(
                [str(PYTHON), '-m', 'distributed.cli.dask_worker', self.address, '--nthreads',
                 '1', '--host', '127.0.0.1', '--no-dashboard', '--no-nanny'],
                env=self.env, stdout=subprocess.DEVNULL,
                stderr=open(self.folder / f'worker{i}.log', 'w')))
        from distributed import Client
        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(self.count, timeout=120)
        return self

    def __exit__(self, *exc):
        for p in self.workers + [self.scheduler]:
            if p is not None and p.poll() is None:
                p.terminate()
        for p in self.workers + [self.scheduler]:
            if p is not None:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def wait_for_staged_file(out, process, timeout=120):
    """Until a task has converted into the staging folder (and not yet moved)."""
    deadline = time.monotonic() + timeout
    staging = Path(out) / '.image_batch'
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if staging.exists() and any(p.is_file() and p.name != 'lock'
                                    for p in staging.rglob('*')):
            return
        time.sleep(0.05)
    raise AssertionError('no task reached the staging folder')


# ---- generated exams --------------------------------------------------------------

@pytest.fixture(scope='module')
def archive(tmp_path_factory):
    """Nine exams: six of one series, one of two (sub-folders), one zip, one
    corrupt (a file cut short); the CLI's outputs for each."""
    if not MAKE_SERIES.exists() or not IMAGE_DATA.exists():
        pytest.skip(f'SKIP: {MAKE_SERIES} or {IMAGE_DATA} is not built')
    root = tmp_path_factory.mktemp('archive')
    arch = root / 'arch'
    for i in range(1, 7):
        make_series(arch / f'e0{i}', 2 + i % 2)
    make_series(arch / 'e07' / 'a', 2)
    make_series(arch / 'e07' / 'b', 3)
    make_series(root / 'zipped', 2)
    with zipfile.ZipFile(arch / 'e08.zip', 'w') as z:
        for f in sorted((root / 'zipped').iterdir()):
            z.write(f, f.name)
    make_series(arch / 'e09', 2)
    victim = sorted((arch / 'e09').iterdir())[3]
    victim.write_bytes(victim.read_bytes()[:1000])
    exams = [(f'e0{i}', arch / f'e0{i}') for i in range(1, 8)]
    exams += [('e08', arch / 'e08.zip'), ('e09', arch / 'e09')]
    ref = root / 'ref'
    codes = cli_reference(exams, ref, '--of', 'nifti')
    assert codes == {**{name: 0 for name, _ in exams}, 'e09': 4}, codes
    return {'root': root, 'arch': arch, 'exams': exams, 'ref': ref}


@pytest.mark.generated
def test_local_cluster_same_as_cli_then_skips(archive, tmp_path):
    out = tmp_path / 'out'
    done = batch('--of', 'nifti', '--workers', '2', out, archive['arch'])
    assert done.returncode == 8, done.stderr  # the corrupt exam
    assert 'e09 (' in done.stderr and 'IMD_ERR_CORRUPT' in done.stderr, done.stderr
    assert_same_as_cli(out, archive['ref'])
    rows = assert_manifest_complete(out, archive['exams'], failed={'e09'})
    assert len([r for r in rows if r['status'] == 'written']) == 9  # e07 has two series
    bad = [r for r in rows if r['exam'] == 'e09']
    assert len(bad) == 1 and bad[0]['code'] == 4 and victim_named(bad[0]['error'])
    assert {tuple(r['shape']) for r in rows if r['exam'] == 'e01'} == {(3, 4, 32, 32)}
    assert {r['order'] for r in rows if r['status'] == 'written'} == {'time'}
    import nibabel
    image = nibabel.load(out / 'e02.nii.gz')
    assert image.shape == (32, 32, 4, 2)  # nibabel: x, y, z, t of our (t, z, y, x)
    before = {p: p.stat().st_mtime_ns for p in out.rglob('*.nii.gz')}

    # The second run skips every exam recorded complete, retries the failed one.
    done = batch('--of', 'nifti', '--workers', '2', out, archive['arch'])
    assert done.returncode == 8, done.stderr
    rows = assert_manifest_complete(out, archive['exams'], failed={'e09'},
                                    statuses=('skipped',))
    assert {r['exam'] for r in rows if r['status'] == 'skipped'} == \
        {name for name, _ in archive['exams']} - {'e09'}
    assert {p: p.stat().st_mtime_ns for p in out.rglob('*.nii.gz')} == before
    assert_same_as_cli(out, archive['ref'])

    # An input that changes (mtime) is converted again; --dry-run says so first.
    os.utime(next((archive['arch'] / 'e03').iterdir()))
    plan = batch('--of', 'nifti', '--dry-run', out, archive['arch'])
    assert plan.returncode == 0, plan.stderr
    converts = [line for line in plan.stdout.splitlines() if line.startswith('convert ')]
    assert converts == [f'convert {archive["arch"] / name} -> {out / name} '
                        f'({sum(f.stat().st_size for f in (archive["arch"] / name).iterdir())} '
                        'bytes)' for name in ('e03', 'e09')], plan.stdout
    assert 'skip e01: up to date' in plan.stdout
    assert plan.stdout.splitlines()[-1] == '2 task(s) for 2 exam(s), 7 exam(s) up to date'
    # Other options make other outputs: not up to date.
    other = batch('--of', 'nifti', '--no-gzip', '--dry-run', out, archive['arch'])
    assert other.stdout.splitlines()[-1] == '9 task(s) for 9 exam(s), 0 exam(s) up to date'
    done = batch('--of', 'nifti', '--workers', '1', out, archive['arch'])
    assert done.returncode == 8
    rows = manifest(out)
    assert {r['status'] for r in rows if r['exam'] == 'e03'} == {'written'}
    assert {r['status'] for r in rows if r['exam'] == 'e01'} == {'skipped'}
    assert_same_as_cli(out, archive['ref'])


def victim_named(message):
    return 'IM001_' in message or 'IM000_' in message


@pytest.mark.generated
def test_scheduler_two_workers_one_killed(archive, tmp_path):
    """A scheduler and two workers started apart; one worker is killed while
    it holds a converted exam in staging: the run completes on the other, the
    outputs are the CLI's, nothing partial is left."""
    out = tmp_path / 'out'
    with Cluster(tmp_path / 'cluster', env={'IMAGEDATA_BATCH_TEST_DELAY': '1.0'}) as cluster:
        run = subprocess.Popen([str(IMAGE_BATCH), '--no-progress', '--of', 'nifti',
                                '--scheduler', cluster.address, str(out), str(archive['arch'])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_staged_file(out, run)
        cluster.workers[0].send_signal(signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=600)
        assert cluster.workers[0].wait(timeout=30) == -signal.SIGKILL
        assert cluster.workers[1].poll() is None
    assert run.returncode == 8, stderr
    assert_same_as_cli(out, archive['ref'])
    assert_manifest_complete(out, archive['exams'], failed={'e09'})


@pytest.mark.generated
def test_python_api_on_a_scheduler(archive, tmp_path):
    from imagedata.batch import Settings, run
    out = tmp_path / 'out'
    listing = tmp_path / 'exams.txt'
    listing.write_text('# two exams\n' + '\n'.join(str(p) for _, p in archive['exams'][:2]) + '\n')
    with Cluster(tmp_path / 'cluster') as cluster:
        result = run(out, [], Settings(formats=['nifti']), inputs_from=[listing],
                     scheduler=cluster.address, progress=False, log=lambda m: None)
    assert result.code == 0 and result.converted == 2 and result.failed == 0
    assert {r['exam'] for r in result.rows} == {'e01', 'e02'}
    for name in ('e01', 'e02'):
        assert (out / f'{name}.nii.gz').read_bytes() == \
            (archive['ref'] / f'{name}.nii.gz').read_bytes()


@pytest.mark.generated
def test_ctrl_c_cancels_cleanly_then_resumes(archive, tmp_path):
    out = tmp_path / 'out'
    # Worker processes (--processes): the client's Ctrl-C reaches them through
    # the cancel file in staging; threads would stop with the client.
    run = subprocess.Popen([str(IMAGE_BATCH), '--no-progress', '--of', 'nifti', '--workers', '1',
                            '--processes', str(out), str(archive['arch'])],
                           env=dict(os.environ, IMAGEDATA_BATCH_TEST_DELAY='1.0'),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_staged_file(out, run)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 130, stderr
    assert 'interrupted' in stderr
    # Only whole exams in OUTPUT, each in the manifest; no staging.
    rows = manifest(out)
    listed = sorted(f for r in rows for f in r['outputs'])
    assert listed == sorted(tree(out))
    assert len({r['exam'] for r in rows}) < len(archive['exams'])
    assert not (out / '.image_batch').exists()
    done = batch('--of', 'nifti', '--workers', '2', out, archive['arch'])
    assert done.returncode == 8, done.stderr
    assert_same_as_cli(out, archive['ref'])
    assert_manifest_complete(out, archive['exams'], failed={'e09'},
                             statuses=('written', 'skipped'))


@pytest.mark.generated
def test_usage_errors(archive, tmp_path):
    done = batch('--of', 'nifti', '--input_options', 'no_such_option=1', tmp_path / 'o',
                 archive['arch'])
    assert done.returncode == 1 and 'no_such_option' in done.stderr, done.stderr
    done = batch('--of', 'nifti', tmp_path / 'o', tmp_path / 'missing')
    assert done.returncode == 2 and 'missing' in done.stderr, done.stderr
    done = batch('--of', 'nifti', '--name', '../x', tmp_path / 'o', archive['arch'])
    assert done.returncode == 1, done.stderr


# ---- ../shared/data/dcm_qa_dev ---------------------------------------------------------

@pytest.fixture(scope='module')
def qa(tmp_path_factory):
    if not DATA.is_dir():
        pytest.skip(f'SKIP: the dcm_qa_dev data is missing ({DATA})')
    root = tmp_path_factory.mktemp('qa')
    listing = root / 'exams.txt'
    listing.write_text(f'{DATA}/dcm_qa_xa60/In/XA60\n{DATA}/dcm_qa_cs_dl/In/Philips\n'
                       f'{DATA}/dcm_qa_frag/In\n')
    roots = [DATA / 'dcm_qa_fmap' / 'In', DATA / 'dcm_qa_stc' / 'In']
    # Names: the folder's, made unique in plan order (_2).
    exams = [('GE', roots[0] / 'GE'), ('Philips', roots[0] / 'Philips'),
             ('Siemens', roots[0] / 'Siemens'), ('GE_2', roots[1] / 'GE'),
             ('Siemens_2', roots[1] / 'Siemens'), ('UIH', roots[1] / 'UIH'),
             ('XA60', DATA / 'dcm_qa_xa60/In/XA60'), ('Philips_2', DATA / 'dcm_qa_cs_dl/In/Philips'),
             ('In', DATA / 'dcm_qa_frag/In')]
    ref = root / 'ref'
    codes = cli_reference(exams, ref, '--of', 'nifti')
    return {'roots': roots, 'listing': listing, 'exams': exams, 'ref': ref, 'codes': codes}


def check_qa(out, qa, done):
    expected = 0 if all(c == 0 for c in qa['codes'].values()) else 8
    assert done.returncode == expected, (qa['codes'], done.stderr)
    assert_same_as_cli(out, qa['ref'])
    failed = {name for name, code in qa['codes'].items() if code != 0}
    assert_manifest_complete(out, qa['exams'], failed=failed)


@pytest.mark.dcm_qa_dev
def test_dcm_qa_dev_local_cluster(qa, tmp_path):
    out = tmp_path / 'out'
    done = batch('--of', 'nifti', '--inputs-from', qa['listing'], out, *qa['roots'])
    check_qa(out, qa, done)
    again = batch('--of', 'nifti', '--inputs-from', qa['listing'], out, *qa['roots'])
    assert again.returncode == 0 and ' 0 converted' in again.stderr, again.stderr
    assert {r['status'] for r in manifest(out)} == {'skipped'}


@pytest.mark.dcm_qa_dev
def test_dcm_qa_dev_scheduler_split_per_series(qa, tmp_path):
    """The same on a separately started scheduler with two workers, with every
    exam of several series split into one task per series (--split-size 1)."""
    out = tmp_path / 'out'
    with Cluster(tmp_path / 'cluster') as cluster:
        plan = batch('--of', 'nifti', '--split-size', '1', '--dry-run', '--inputs-from',
                     qa['listing'], out, *qa['roots'])
        assert ' series ' in plan.stdout, plan.stdout
        done = batch('--of', 'nifti', '--split-size', '1', '--scheduler', cluster.address,
                     '--inputs-from', qa['listing'], out, *qa['roots'])
    check_qa(out, qa, done)
    assert any(r['tasks'] > 1 for r in manifest(out))
