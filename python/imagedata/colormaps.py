"""Colour maps, intensity normalisation and the Gaussian blur behind
Series.to_rgb and Series.fuse_mask (behaviour.md §1.8), in numpy only.

The original does these with matplotlib and scipy; neither is a dependency
here. What is reproduced is their documented arithmetic:

- A colour map is a table of N RGB entries in [0, 1]. A value x in [0, 1]
  takes entry floor(x * N), with x = 1 taking the last one; NaN ("bad") is
  black, below the range ("under") black, above it ("over") white; an entry
  becomes bytes as floor(255 * v) (matplotlib's Colormap(..., bytes=True);
  of the exact value, where float noise might give one less).
- The named maps are built from their published definitions:
  'Greys' is ColorBrewer's 9-class sequential Greys scheme (Cynthia Brewer,
  colorbrewer2.org: #ffffff #f0f0f0 #d9d9d9 #bdbdbd #969696 #737373 #525252
  #252525 #000000) interpolated linearly between evenly spaced anchors;
  'gray' runs linearly from black to white. '_r' reverses a map.
  A table of N entries samples the anchors at i / (N - 1).
- Other maps (matplotlib's 'magma', the original's 'navia' and 'lipari')
  are published only as tables of their authors; they are not reproduced
  here. Pass a table instead: an (N, 3) or (N, 4) array of values in
  [0, 1], or any object with an integer `N` that maps indices to RGB(A)
  rows (a matplotlib Colormap), e.g. colormap=matplotlib.colormaps['magma'].
"""
import numpy as np

__all__ = ['NAMED_MAPS', 'colormap_table', 'normalize', 'apply_colormap', 'gaussian_blur_2d',
           'clip_range']

# ColorBrewer "Greys", 9 classes, light to dark (sRGB bytes; grey, so R = G = B).
_GREYS_9 = (255, 240, 217, 189, 150, 115, 82, 37, 0)

_ANCHORS = {
    'Greys': np.array(_GREYS_9, dtype=float) / 255.0,
    'gray': np.array([0.0, 1.0]),
}

NAMED_MAPS = ('Greys', 'Greys_r', 'gray', 'gray_r', 'grey', 'grey_r')


def _unsupported(name):
    return ValueError(
        'imagedata: colour map {!r} is not available: the supported names are {} '
        "(matplotlib's other maps and the original's 'navia' and 'lipari' are published "
        'only as tables of their authors, which are not reproduced here); pass a table '
        'instead: an (N, 3) array of RGB values in [0, 1], or a matplotlib Colormap'.format(
            name, ', '.join(NAMED_MAPS)))


def colormap_table(colormap, lut=256):
    """The (N, 3) float table of `colormap` (a name, a table, or an object
    with N that maps index arrays to RGB(A) rows); a named map gets `lut` entries."""
    if isinstance(colormap, str):
        name = colormap
        reverse = name.endswith('_r')
        base = name[:-2] if reverse else name
        base = 'gray' if base == 'grey' else base
        if base not in _ANCHORS:
            raise _unsupported(name)
        lut = int(lut)
        if lut < 2:
            raise ValueError('imagedata: a colour map needs at least 2 entries, not {}'.format(lut))
        anchors = _ANCHORS[base]
        if reverse:
            anchors = anchors[::-1]
        grey = np.interp(np.linspace(0.0, 1.0, lut), np.linspace(0.0, 1.0, len(anchors)),
                         anchors)
        return np.repeat(grey[:, None], 3, axis=1)
    if hasattr(colormap, 'N') and callable(colormap) and not isinstance(colormap, np.ndarray):
        table = np.asarray(colormap(np.arange(int(colormap.N))), dtype=float)
    else:
        table = np.asarray(colormap, dtype=float)
    if table.ndim != 2 or table.shape[1] not in (3, 4) or table.shape[0] < 1:
        raise ValueError('imagedata: a colour table is (N, 3) or (N, 4), not {}'.format(
            table.shape))
    table = table[:, :3]
    if not np.all(np.isfinite(table)) or table.min() < 0 or table.max() > 1:
        raise ValueError('imagedata: colour table values must lie in [0, 1]')
    return table


def _work_dtype(dtype):
    """Small integers and float32 are normalised in float32, others in
    float64 (as matplotlib's Normalize.process_value promotes them)."""
    dtype = np.dtype(dtype)
    if dtype.kind == 'b':
        dtype = np.dtype(np.uint8)
    return np.promote_types(dtype, np.float32)


def normalize(data, vmin, vmax, norm='linear'):
    """data clipped to [vmin, vmax] and mapped to [0, 1]: linearly, or by
    log10 ('log'; values <= 0 become NaN, drawn black). vmin == vmax gives 0."""
    data = np.asarray(data)
    if norm not in ('linear', 'log'):
        raise ValueError("imagedata: norm is 'linear' or 'log', not {!r}".format(norm))
    vmin, vmax = float(vmin), float(vmax)
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        raise ValueError('imagedata: the intensity range [{}, {}] is not finite'.format(vmin, vmax))
    if vmin > vmax:
        raise ValueError('imagedata: the intensity range [{}, {}] is reversed'.format(vmin, vmax))
    work = data.astype(_work_dtype(data.dtype))
    if norm == 'log':
        if vmax <= 0:
            raise ValueError('imagedata: log norm needs a positive range, not [{}, {}]'.format(
                vmin, vmax))
        positive = work > 0
        out = np.full(work.shape, np.nan, dtype=work.dtype)
        if vmin == vmax:
            out[positive] = 0
            return out
        lo, hi = np.log10(vmin), np.log10(vmax)
        clipped = np.clip(work[positive], vmin, vmax)
        out[positive] = (np.log10(clipped) - lo) / (hi - lo)
        return out
    if vmin == vmax:
        out = np.zeros(work.shape, dtype=work.dtype)
        out[np.isnan(work)] = np.nan
        return out
    out = np.clip(work, vmin, vmax)
    out -= vmin
    out /= (vmax - vmin)
    return out


def apply_colormap(x, table):
    """RGB bytes (..., 3) of normalised values x through an (N, 3) table."""
    x = np.asarray(x)
    n = len(table)
    colors = np.empty((n + 2, 3), dtype=np.uint8)
    # floor(255 v), as matplotlib's bytes=True, of the exact value: the small
    # epsilon keeps an entry that is exactly an integer (240/255 * 255) from
    # dropping to the one below through rounding noise.
    colors[:n] = np.floor(np.clip(table * 255 + 1e-9, 0, 255)).astype(np.uint8)
    colors[n] = 0      # under and bad: black
    colors[n + 1] = 255  # over: white
    scaled = x * n
    index = np.zeros(x.shape, dtype=np.intp)
    bad = np.isnan(scaled)
    under = scaled < 0
    over = scaled > n
    inside = ~(bad | under | over)
    index[inside] = np.minimum(scaled[inside].astype(np.intp), n - 1)
    index[bad | under] = n
    index[over] = n + 1
    return colors[index]


def _gaussian_kernel(sigma, truncate=4.0):
    """Normalised weights exp(-x^2 / (2 sigma^2)) for |x| <= round(truncate * sigma)."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=float)
    weights = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return weights / weights.sum()


def _blur_axis(data, weights, axis):
    """Convolve along one axis, the edges mirrored including the edge sample
    (d c b a | a b c d | d c b a)."""
    radius = len(weights) // 2
    n = data.shape[axis]
    # Indices of the mirrored signal, folded into [0, n) for any radius.
    positions = np.arange(-radius, n + radius)
    period = 2 * n
    folded = np.mod(positions, period)
    folded = np.where(folded >= n, period - 1 - folded, folded)
    padded = np.take(data, folded, axis=axis)
    out = np.zeros_like(data, dtype=float)
    for k, w in enumerate(weights):
        out += w * np.take(padded, np.arange(k, k + n), axis=axis)
    return out


def gaussian_blur_2d(image, sigma=1.5):
    """A 2D image blurred by a Gaussian of `sigma` pixels along rows and
    columns (separable; kernel radius round(4 sigma); mirrored edges)."""
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError('imagedata: a 2D image is blurred, not {}D'.format(image.ndim))
    weights = _gaussian_kernel(sigma)
    return _blur_axis(_blur_axis(image, weights, 0), weights, 1)


def clip_range(data, probs, bins):
    """(low, high) intensities at the cumulative histogram probabilities
    `probs`: a histogram of `bins` equal bins over [min, max] of the finite
    values; the first bin whose cumulative fraction reaches each probability
    gives its left edge."""
    if len(probs) != 2:
        raise ValueError('imagedata: probs takes two probabilities, not {!r}'.format(probs))
    values = np.asarray(data)
    values = values[np.isfinite(values)] if values.dtype.kind in 'fc' else values.ravel()
    if values.size == 0:
        raise ValueError('imagedata: no finite value to take a histogram of')
    counts, edges = np.histogram(values, bins=int(bins))
    cumulative = np.cumsum(counts) / counts.sum()
    low, high = np.searchsorted(cumulative, probs)
    return edges[min(low, len(edges) - 1)], edges[min(high, len(edges) - 1)]
