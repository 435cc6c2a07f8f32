#!/usr/bin/python3
"""image_batch against a loop of image_data (issue 24, docs/batch.md).

A generated archive of --exams small exams (make_dicom_series: 2 time points x
8 slices of 64 x 64, 16 files each) is converted to NIfTI
  cli loop      image_data --of nifti OUT/<exam> EXAM, one exam after another
                (each process with its default threads: one per core)
  local N       image_batch --workers N (an embedded LocalCluster of N workers,
                threads of the client process, the default; and --processes:
                N worker processes; started and stopped inside the timing)
  scheduler     image_batch --scheduler ADDRESS on a scheduler and two worker
                processes started beforehand on loopback (not timed)
and every batch output is compared with the loop's, file for file. Wall time
is the median of --runs runs; throughput is exams per second. Writes
bench/results/batch.md.

usage: /usr/bin/python3 bench/batch.py BUILD_DIR [--exams 200] [--runs 3]
       [--times 2 --slices 8 --size 64] [--results bench/results/batch.md]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def venv_for(build):
    """A venv with the package built against `build` (scripts/demo_python.sh's recipe)."""
    venv = build / 'batch-bench-venv'
    if not (venv / 'bin' / 'image_batch').exists():
        src = build / 'batch-bench-src'
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(ROOT / 'python', src)
        subprocess.run(['/usr/bin/python3', '-m', 'venv', '--system-site-packages', str(venv)],
                       check=True)
        subprocess.run([str(venv / 'bin' / 'pip'), 'install', '--no-build-isolation',
                        '--no-index', '--quiet', '--disable-pip-version-check',
                        '--no-cache-dir', str(src)],
                       check=True, env=dict(os.environ, IMAGEDATA_BUILD=str(build)))
    return venv


def tree(folder):
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob('*'))
            if p.is_file() and p.name != 'manifest.jsonl'}


def timed(command, env=None):
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f'{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}')
    return seconds


def cli_loop(build, exams, out):
    start = time.perf_counter()
    for exam in exams:
        done = subprocess.run([str(build / 'cli' / 'image_data'), '--of', 'nifti',
                               str(out / exam.name), str(exam)], capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f'image_data {exam}: {done.stderr.decode()[-500:]}')
    return time.perf_counter() - start


class Scheduler:
    def __init__(self, venv, folder, workers=2):
        self.venv, self.folder, self.workers, self.procs = venv, Path(folder), workers, []

    def __enter__(self):
        info = self.folder / 'scheduler.json'
        python = str(self.venv / 'bin' / 'python')
        self.procs.append(subprocess.Popen(
            [python, '-m', 'distributed.cli.dask_scheduler', '--host', '127.0.0.1', '--port',
             '0', '--dashboard-address', '127.0.0.1:0', '--scheduler-file', str(info)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while not info.exists() or not info.read_text().strip():
            time.sleep(0.2)
        time.sleep(0.2)
        self.address = json.loads(info.read_text())['address']
        for _ in range(self.workers):
            self.procs.append(subprocess.Popen(
                [python, '-m', 'distributed.cli.dask_worker', self.address, '--nthreads', '1',
                 '--host', '127.0.0.1', '--no-dashboard'],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        subprocess.run([python, '-c', 'import sys; from distributed import Client; '
                        'Client(sys.argv[1]).wait_for_workers(int(sys.argv[2]), timeout=120)',
                        self.address, str(self.workers)], check=True)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('build')
    parser.add_argument('--exams', type=int, default=200)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--times', type=int, default=2, help='time points per exam [2]')
    parser.add_argument('--slices', type=int, default=8, help='slices per exam [8]')
    parser.add_argument('--size', type=int, default=64, help='rows and columns [64]')
    parser.add_argument('--results', default=str(ROOT / 'bench' / 'results' / 'batch.md'),
                        help='the Markdown file written [bench/results/batch.md]')
    parser.add_argument('--keep', help='keep the work folder here')
    args = parser.parse_args()
    build = Path(args.build).resolve()
    venv = venv_for(build)
    image_batch = str(venv / 'bin' / 'image_batch')
    work = Path(args.keep or tempfile.mkdtemp(prefix='imd-batch-bench-'))
    archive = work / 'archive'
    shutil.rmtree(archive, ignore_errors=True)
    exams = []
    for i in range(args.exams):
        exam = archive / f'exam{i:04d}'
        exam.mkdir(parents=True)
        subprocess.run([str(build / 'examples' / 'make_dicom_series'), str(exam),
                        str(args.times), str(args.slices), str(args.size)],
                       check=True, capture_output=True)
        exams.append(exam)
    files = sum(len(list(e.iterdir())) for e in exams)
    cores = os.cpu_count()
    results = {}

    def measure(label, run):
        times = []
        for _ in range(args.runs):
            out = work / 'out'
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            times.append(run(out))
        results[label] = (statistics.median(times), tree(work / 'out'))
        print(f'{label:30s} {results[label][0]:7.2f} s  {args.exams / results[label][0]:6.1f} '
              f'exams/s', flush=True)

    measure('cli loop', lambda out: cli_loop(build, exams, out))
    for n in sorted({1, cores}):
        measure(f'local {n} worker thread(s)', lambda out, n=n: timed(
            [image_batch, '--no-progress', '--of', 'nifti', '--workers', str(n), str(out),
             str(archive)]))
    for n in sorted({1, cores}):
        measure(f'local {n} worker process(es)', lambda out, n=n: timed(
            [image_batch, '--no-progress', '--of', 'nifti', '--workers', str(n), '--processes',
             str(out), str(archive)]))
    with Scheduler(venv, work, workers=2) as s:
        measure('scheduler 2 workers', lambda out: timed(
            [image_batch, '--no-progress', '--of', 'nifti', '--scheduler', s.address, str(out),
             str(archive)]))
    reference = results['cli loop'][1]
    for label, (_, outputs) in results.items():
        if outputs != reference:
            raise SystemExit(f'{label}: outputs differ from the CLI loop\'s')
    base = results['cli loop'][0]
    lines = [
        '# image_batch against a loop of image_data (bench/batch.py)', '',
        f'{args.exams} generated exams ({args.times} x {args.slices} images of {args.size} x '
        f'{args.size}, {files} DICOM files in all) to '
        f'NIfTI, median of {args.runs} run(s), on {cores} core(s) (`nproc`). Batch wall times '
        'include starting and stopping the embedded LocalCluster; the separately started '
        'scheduler and workers are started before the timing. Every output equals the '
        'CLI loop\'s, file for file.', '',
        '| run | seconds | exams/s | throughput vs the CLI loop |', '|---|---:|---:|---:|']
    for label, (seconds, _) in results.items():
        lines.append(f'| {label} | {seconds:.2f} | {args.exams / seconds:.1f} | '
                     f'{base / seconds:.2f}x |')
    text = '\n'.join(lines) + '\n'
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(text)
    print(text)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
