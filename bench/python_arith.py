#!/usr/bin/python3
"""`c = (a + b) / 2` on two 4D Series against the same on plain numpy arrays
(issue 19 item 6: the cost must be numpy's plus a constant for the header,
with no extra array copies).

Workloads: the time series of ../shared (3x3x192x152 uint16, read from
DICOM) and a generated 4D series (default 20x30x192x192 uint16) made with
Series(array, 'time'). For each: the median wall time of numpy alone, of
the Series expression, and of the Series expression followed by reading a
header property of the result (c.seriesInstanceUID: the result's header is
made lazily, when first asked); the difference is the header constant.
tracemalloc's peak for numpy and for Series (numpy reports its buffers to
tracemalloc) shows whether the Series path copies any array.

usage: python bench/python_arith.py [--runs 21] [--shape 20x30x192x192] [--data DIR] [--out FILE]
Run it with a Python that imports imagedata (BUILD/python-venv/bin/python).
"""
import argparse
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

from imagedata.series import Series


def median_times(fns, runs):
    """Median wall time of each function, run in turn (round robin), so
    that the machine's load drifts over all of them alike."""
    times = [[] for _ in fns]
    for _ in range(runs):
        for k, fn in enumerate(fns):
            started = time.perf_counter()
            result = fn()
            times[k].append(time.perf_counter() - started)
            del result
    return [statistics.median(t) for t in times]


def peak(fn):
    fn()  # warm up: first-use allocations are not the expression's
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return top


def workload(name, a, b, runs):
    plain_a, plain_b = np.asarray(a), np.asarray(b)
    assert np.shares_memory(plain_a, a) and np.shares_memory(plain_b, b)

    def numpy_only():
        return (plain_a + plain_b) / 2

    def series():
        return (a + b) / 2

    def series_and_header():
        c = (a + b) / 2
        c.seriesInstanceUID
        return c

    c = series_and_header()
    assert np.array_equal(np.asarray(c), numpy_only())
    assert c.seriesInstanceUID != a.seriesInstanceUID
    t_numpy, t_series, t_header = median_times([numpy_only, series, series_and_header], runs)
    m_numpy, m_series, m_header = peak(numpy_only), peak(series), peak(series_and_header)
    return {
        'name': name, 'shape': 'x'.join(str(n) for n in a.shape),
        'numpy_ms': t_numpy * 1e3, 'series_ms': t_series * 1e3, 'header_ms': t_header * 1e3,
        'constant_ms': (t_header - t_numpy) * 1e3, 'ratio': t_header / t_numpy,
        'numpy_peak': m_numpy, 'series_peak': m_series, 'header_peak': m_header,
        'result_bytes': c.nbytes,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=21)
    parser.add_argument('--shape', default='20x30x192x192')
    parser.add_argument('--data', default=os.path.join(here, '..', '..', 'shared', 'data',
                                                       'imagedata'))
    parser.add_argument('--out', default=None, help='append the table to this file')
    args = parser.parse_args()
    rows = []
    folder = os.path.join(args.data, 'dicom', 'time')
    if os.path.isdir(folder):
        rows.append(workload('time (DICOM)', Series(folder, 'time'), Series(folder, 'time'),
                             args.runs))
    else:
        print('note: {} is missing; the DICOM workload is skipped'.format(folder),
              file=sys.stderr)
    shape = tuple(int(n) for n in args.shape.split('x'))
    rng = np.random.default_rng(1)
    a = Series(rng.integers(0, 4000, size=shape, dtype=np.uint16), 'time')
    b = Series(rng.integers(0, 4000, size=shape, dtype=np.uint16), 'time')
    rows.append(workload('generated', a, b, args.runs))
    lines = ['| workload | shape | numpy ms | Series ms | Series + header ms | header constant ms '
             '| (Series+header)/numpy | numpy peak MiB | Series peak MiB | Series+header peak MiB '
             '| result MiB |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    mib = 1024.0 * 1024.0
    for r in rows:
        lines.append('| {name} | {shape} | {numpy_ms:.2f} | {series_ms:.2f} | {header_ms:.2f} | '
                     '{constant_ms:.3f} | {ratio:.3f} | {np_peak:.2f} | {s_peak:.2f} | '
                     '{h_peak:.2f} | {res:.2f} |'.format(
                         np_peak=r['numpy_peak'] / mib, s_peak=r['series_peak'] / mib,
                         h_peak=r['header_peak'] / mib, res=r['result_bytes'] / mib, **r))
    text = '\n'.join(lines)
    print(text)
    if args.out:
        with open(args.out, 'a') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
