"""Axes: a name and coordinates per dimension (behaviour.md §1.4).

The axes of a Series come from the C library's ImdAxis (uniform: start, step,
length; variable: one value per index). These classes keep the original's
names and arithmetic; their values are plain Python numbers.
"""
from collections import namedtuple
import math

import numpy as np


class Axis:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return '{}({!r})'.format(type(self).__name__, self.name)


class UniformAxis(Axis):
    """UniformAxis(name, start, stop, step=1): ax[i] = start + i*step."""

    def __init__(self, name, start, stop, step=1):
        super().__init__(name)
        self.start, self.stop, self.step = start, stop, step

    def __len__(self):
        return abs(int((self.stop - self.start) / self.step))

    def __getitem__(self, item):
        n = len(self)
        if isinstance(item, slice):
            a, b, k = item.indices(n)
            start = self.start + a * self.step
            stop = min(self.stop, self.start + b * self.step)
            return type(self)._from(self.name, start, stop, k * self.step)
        if isinstance(item, (list, tuple, np.ndarray)):
            return VariableAxis(self.name, [self[i] for i in item])
        i = int(item)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError('index {} out of range for axis {!r} of length {}'.format(
                item, self.name, n))
        return self.start + i * self.step

    @classmethod
    def _from(cls, name, start, stop, step):
        return UniformAxis(name, start, stop, step)

    @property
    def slice(self):
        return (self.start, self.stop, self.step)

    @property
    def values(self):
        return np.array([self[i] for i in range(len(self))])

    def append(self, axis):
        self.stop += len(axis) * self.step

    def copy(self, name=None, n=None):
        """A copy of n values (the original gives n+1: a bug not copied)."""
        n = len(self) if n is None else n
        return UniformAxis(name or self.name, self.start, self.start + n * self.step, self.step)

    def __repr__(self):
        return '{}({!r}, {}, {}, {})'.format(type(self).__name__, self.name, self.start,
                                            self.stop, self.step)


class UniformLengthAxis(UniformAxis):
    """UniformLengthAxis(name, start, n, step=1): stop = start + n*step."""

    def __init__(self, name, start, n, step=1):
        super().__init__(name, start, start + n * step, step)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, item):
        if isinstance(item, slice):
            a, b, k = item.indices(self.n)
            start = self.start + a * self.step
            stop = min(self.stop, self.start + b * self.step)
            step = k * self.step
            n = min(self.n, int(round((stop - start) / step)))
            return UniformLengthAxis(self.name, start, max(n, 0), step)
        return super().__getitem__(item)

    def copy(self, name=None, n=None):
        return UniformLengthAxis(name or self.name, self.start, self.n if n is None else n,
                                 self.step)

    def __repr__(self):
        return '{}({!r}, {}, {}, {})'.format(type(self).__name__, self.name, self.start,
                                            self.n, self.step)


class VariableAxis(Axis):
    """VariableAxis(name, values): numbers, strings, tuples or arrays."""

    def __init__(self, name, values):
        super().__init__(name)
        self.values = np.array(values) if not isinstance(values, np.ndarray) else values

    def __len__(self):
        return len(self.values)

    def __getitem__(self, item):
        if isinstance(item, (slice, list, tuple, np.ndarray)):
            return VariableAxis(self.name, self.values[item])
        return self.values[item]

    @property
    def start(self):
        return self.values[0]

    @property
    def stop(self):
        return self.values[-1]

    @property
    def step(self):
        """The original's rule: 1 for fewer than 2 values; the first difference
        when every difference agrees within 1e-4 (relative); else None."""
        if len(self.values) < 2:
            return 1
        try:
            values = np.asarray(self.values, dtype=float)
        except (TypeError, ValueError):
            return None
        if values.ndim != 1:
            return None
        d = np.diff(values)
        if abs(d[0]) < 1e-8:
            return None
        if np.all(np.abs(d - d[0]) <= 1e-4 * abs(d[0])):
            return float(d[0])
        return None

    def append(self, axis):
        self.values = np.concatenate((self.values, axis.values))

    def copy(self, name=None, n=None):
        values = self.values
        if n is not None and n != len(values):
            if n < len(values):
                values = values[:n]
            else:
                step = (values[-1] - values[-2]) if len(values) > 1 else 1
                values = np.concatenate((values, values[-1] + step * np.arange(1, n - len(values) + 1)))
        return VariableAxis(name or self.name, values)

    def __repr__(self):
        return '{}({!r}, {})'.format(type(self).__name__, self.name, list(self.values))


def axes_from_description(description):
    """The named tuple of axes from the C library's JSON description."""
    axes = []
    for a in description:
        if 'values' in a:
            values = a['values']
            if values and isinstance(values[0], list) and len(values[0]) == 2 and \
                    isinstance(values[0][1], list):
                # (b, direction) pairs
                values = [(v[0], np.array(v[1])) for v in values]
                arr = np.empty(len(values), dtype=object)
                arr[:] = values
                axes.append(VariableAxis(a['name'], arr))
                continue
            if values and isinstance(values[0], list):
                arr = np.empty(len(values), dtype=object)
                for i, v in enumerate(values):
                    arr[i] = np.array(v)
                axes.append(VariableAxis(a['name'], arr))
                continue
            axes.append(VariableAxis(a['name'], values))
        else:
            axes.append(UniformLengthAxis(a['name'], a['start'], a['length'], a['step']))
        axes[-1].unit = a.get('unit', '')
    names = [a.name for a in axes]
    if len(set(names)) != len(names) or not all(n.isidentifier() for n in names):
        return tuple(axes)
    return namedtuple('Axes', names)(*axes)
