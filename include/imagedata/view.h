/**
 * @file view.h
 * A simple image viewer (SDL2) in its own library, libimagedata_view, so
 * that libimagedata never links SDL: scroll slices, step tags, window and
 * level by dragging, several series side by side (docs/viewer.md).
 *
 * @code
 * ImdViewOptions options = {0};          // zero means the defaults
 * ImdViewWindow window;
 * if (!imd_view(&error, &series, 1, &options, &window)) { ... }
 * printf("C %g W %g\n", window.center, window.width);   // as left by 'q'
 * @endcode
 *
 * Functions of this header are exported by libimagedata_view, not by
 * libimagedata (hence IMD_VIEW_API, not IMD_API).
 */
#ifndef IMAGEDATA_VIEW_H
#define IMAGEDATA_VIEW_H

#include <imagedata/common.h>

#if defined(__GNUC__) || defined(__clang__)
#define IMD_VIEW_API __attribute__((visibility("default")))
#else
#define IMD_VIEW_API
#endif

IMD_BEGIN_DECLS

/** A line of text for the caller to show: frame times (bench), warnings. */
typedef void ImdViewReportFn(void *user, const char *line);

/** How to show. A zero-initialised struct gives the defaults. */
typedef struct ImdViewOptions {
    int width, height;      /**< window size in pixels; 0: 1024 x 768 */
    const char *title;      /**< window title; NULL: "imagedata viewer" */
    bool link;              /**< keep every viewport on the same slice and tag */
    bool bench;             /**< measure frame times, report them, then quit */
    unsigned bench_frames;  /**< frames to time with `bench`; 0: 200 */
    /**
     * Scripted input, run once the inputs are read, for tests and the bench:
     * space-separated steps "key:NAME" (an SDL key name, "ctrl+" allowed:
     * key:Down, key:ctrl+End), "wheel:N", "move:X,Y", "drag:BUTTON:X0,Y0:X1,Y1"
     * (BUTTON left, middle or right), "shot", "quit". NULL: none.
     */
    const char *replay;
    /**
     * Screenshots: F12 (or a replay "shot") writes PREFIXnnn.bmp (what is on
     * screen, read back with SDL_RenderReadPixels) and PREFIXnnn.json (the
     * view's state: viewports, slices, tags, windows). NULL: F12 does nothing.
     */
    const char *screenshot_prefix;
    /** A TrueType font for the text; NULL: DejaVu Sans from fonts-dejavu-core. */
    const char *font_path;
    ImdViewReportFn *report; /**< NULL: reports are dropped */
    void *report_user;
} ImdViewOptions;

/** The window a viewport was left with (center and width, in data units). */
typedef struct ImdViewWindow {
    double center, width;
} ImdViewWindow;

/**
 * Show `count` series (1 .. 20 per page, pages beyond) until the user quits
 * ('q', Escape, closing the window). `windows` (may be NULL) receives each
 * series' final window; the series' headers get it too (the original stores
 * it in the Series). Errors: INVALID_ARG (no series, a series that is not
 * at least 2D), UNSUPPORTED (no display could be opened: the message
 * carries SDL's reason), NOMEM.
 */
IMD_VIEW_API bool imd_view(ImdError **error, ImdSeries *const series[], size_t count,
                           const ImdViewOptions *options, ImdViewWindow windows[]);

/**
 * Read `urls` (as imd_read_each() does, in a background thread) and show
 * each series as soon as it has been read; the window opens at once and
 * shows the progress of the read until the first series is there. `*read`
 * (may be NULL) receives the series read (with their final windows) and the
 * read's failures (imd_series_list_failure*), to release with
 * imd_series_list_destroy(). When the read fails before any series arrived
 * the viewer closes and its error is returned. A cancelled `context`
 * (imd_context_cancel(), e.g. from a SIGINT handler) closes the viewer with
 * IMD_ERR_CANCELLED.
 */
IMD_VIEW_API bool imd_view_urls(ImdError **error, ImdContext *context, const char *const urls[],
                                size_t url_count, const ImdOptions *read_options,
                                const ImdViewOptions *options, ImdSeriesList **read);

IMD_END_DECLS

#endif
