/*
 * threads.c: the library's one thread pool.
 *
 * A pool has `threads - 1` worker threads (the thread that waits for the
 * work is the last one). A context owns one (imd__context_pool), made on
 * first use and kept until the context is destroyed or its thread count
 * changes, so a read that runs many parallel steps (a batch of headers at a
 * time, one decode per series, gzip chunks) starts its threads once.
 *
 * Work is a job: fn(user, index) for index 0 .. count-1. Indices are
 * claimed in increasing order by the pool's workers and by the thread that
 * waits for the job (imd__job_finish), which runs the unclaimed indices
 * itself. A wait therefore never depends on a free worker: jobs may nest (a
 * task may run a job of its own), several threads may share a pool, and a
 * pool with no worker (none could start) still finishes every job.
 *
 * After an index fails no further index is claimed. Every index below it
 * had been claimed already (claims only increase) and runs to its end, so
 * the failure of the smallest index, which the job reports, is the one a
 * serial run would have stopped at: the error does not depend on the number
 * of threads or on timing.
 *
 * While a worker runs an index, the job's context is the thread's current
 * one (imd__context_enter), so imd__check_cancel() and imd__check_alloc()
 * without a context pointer see the caller's cancel flag and memory limit.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

struct ImdPool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t idle; /* a job's last running index finished */
    ImdJob *head, *tail; /* jobs with indices left to claim, oldest first */
    size_t wanted;       /* workers to start on first use */
    size_t started;
    bool tried; /* workers were started (as many as could be) */
    bool stop;
    pthread_t *threads;
};

unsigned imd__default_threads(void)
{
    /* Asked once: glibc reads /sys for it, and every parallel step needs it. */
    static atomic_uint cached;
    unsigned threads = atomic_load(&cached);
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores < 1 ? 1 : cores > IMD__MAX_THREADS ? IMD__MAX_THREADS : (unsigned)cores;
        atomic_store(&cached, threads);
    }
    return threads;
}

unsigned imd__threads(const ImdContext *context)
{
    if (context == NULL) {
        context = imd__context_current();
    }
    return context != NULL ? imd_context_threads(context) : imd__default_threads();
}

/* ---- the pool ---- */

ImdPool *imd__pool_create(ImdError **error, unsigned threads)
{
    threads = threads > IMD__MAX_THREADS ? IMD__MAX_THREADS : threads;
    ImdPool *pool = imd__calloc(error, 1, sizeof *pool);
    if (pool == NULL) {
        return NULL;
    }
    pool->wanted = threads > 1 ? threads - 1 : 0;
    pool->threads = pool->wanted > 0 ? imd__calloc(error, pool->wanted, sizeof(pthread_t)) : NULL;
    if (pool->wanted > 0 && pool->threads == NULL) {
        free(pool);
        return NULL;
    }
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        goto no_lock;
    }
    if (pthread_cond_init(&pool->work, NULL) != 0) {
        goto no_work;
    }
    if (pthread_cond_init(&pool->idle, NULL) != 0) {
        goto no_idle;
    }
    return pool;
no_idle:
    pthread_cond_destroy(&pool->work);
no_work:
    pthread_mutex_destroy(&pool->lock);
no_lock:
    imd_error_set(error, IMD_ERR_INTERNAL, "thread pool: cannot make its locks");
    free(pool->threads);
    free(pool);
    return NULL;
}

void imd__pool_destroy(ImdPool *pool)
{
    if (pool == NULL) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->stop = true;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < pool->started; i++) {
        pthread_join(pool->threads[i], NULL);
    }
    pthread_cond_destroy(&pool->idle);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

static void lock(ImdPool *pool)
{
    if (pool != NULL) {
        pthread_mutex_lock(&pool->lock);
    }
}

static void unlock(ImdPool *pool)
{
    if (pool != NULL) {
        pthread_mutex_unlock(&pool->lock);
    }
}

/* Off the queue (under the lock): nothing is left to claim. */
static void dequeue(ImdJob *job)
{
    ImdPool *pool = job->pool;
    if (!job->queued) {
        return;
    }
    if (job->before != NULL) {
        job->before->after = job->after;
    } else {
        pool->head = job->after;
    }
    if (job->after != NULL) {
        job->after->before = job->before;
    } else {
        pool->tail = job->before;
    }
    job->before = job->after = NULL;
    job->queued = false;
}

/* Take the next index (under the lock); false when none is left to claim. */
static bool claim(ImdJob *job, size_t *index)
{
    if (job->stop || job->next >= job->count) {
        return false;
    }
    *index = job->next++;
    job->running++;
    if (job->next == job->count) {
        dequeue(job);
    }
    return true;
}

/* Run one index with the job's context current; a failure always has an error. */
static ImdError *run(ImdJob *job, size_t index)
{
    ImdError *failure = NULL;
    const ImdContext *saved = imd__context_enter(job->context);
    bool ok = job->fn(&failure, job->user, index);
    imd__context_leave(saved);
    if (ok) {
        imd_error_clear(&failure); /* set but not failed: nothing to report */
        return NULL;
    }
    if (failure == NULL) {
        /* A task bug; imd_error_set() gives the static NOMEM error when it cannot allocate. */
        imd_error_set(&failure, IMD_ERR_INTERNAL, "task %zu of %zu failed without saying why",
                      index, job->count);
    }
    return failure;
}

/* Record a finished index (under the lock): keep the failure of the smallest index. */
static void complete(ImdJob *job, size_t index, ImdError *failure)
{
    job->running--;
    job->finished++;
    if (failure != NULL) {
        if (job->error == NULL || index < job->error_index) {
            imd_error_clear(&job->error);
            job->error = failure;
            job->error_index = index;
        } else {
            imd_error_clear(&failure);
        }
        job->stop = true;
        dequeue(job);
    }
    if (job->running == 0 && (job->stop || job->next == job->count) && job->pool != NULL) {
        pthread_cond_broadcast(&job->pool->idle);
    }
}

static void *worker(void *argument)
{
    ImdPool *pool = argument;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stop && pool->head == NULL) {
            pthread_cond_wait(&pool->work, &pool->lock);
        }
        if (pool->head == NULL) {
            break; /* stopping, and nothing is left to do */
        }
        ImdJob *job = pool->head;
        size_t index;
        if (!claim(job, &index)) {
            dequeue(job); /* not reached: a queued job has an index left */
            continue;
        }
        pthread_mutex_unlock(&pool->lock);
        ImdError *failure = run(job, index);
        pthread_mutex_lock(&pool->lock);
        complete(job, index, failure); /* the job may be gone once the lock is released */
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/*
 * Start the workers (under the lock), as many as can start: fewer, or none,
 * only means less parallel work. They block the signals a host program
 * handles (interrupt, termination, its own), so that its handlers run on its
 * own threads; faults (SIGSEGV, SIGBUS, SIGFPE...) stay deliverable, for
 * crash reports and sanitizers.
 */
static void start_workers(ImdPool *pool)
{
    pool->tried = true;
    sigset_t blocked, saved;
    sigemptyset(&blocked);
    static const int host_signals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGALRM,
                                       SIGUSR1, SIGUSR2, SIGCHLD, SIGPIPE};
    for (size_t i = 0; i < sizeof host_signals / sizeof host_signals[0]; i++) {
        sigaddset(&blocked, host_signals[i]);
    }
    bool masked = pthread_sigmask(SIG_BLOCK, &blocked, &saved) == 0;
    while (pool->started < pool->wanted &&
           pthread_create(&pool->threads[pool->started], NULL, worker, pool) == 0) {
        pool->started++;
    }
    if (masked) {
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
    }
}

/* ---- jobs ---- */

void imd__job_start(ImdJob *job, ImdPool *pool, const ImdContext *context, size_t count,
                    bool (*fn)(ImdError **error, void *user, size_t index), void *user)
{
    memset(job, 0, sizeof *job);
    job->fn = fn;
    job->user = user;
    job->count = count;
    job->context = context != NULL ? context : imd__context_current();
    /* One index with no worker to share it with: the waiter runs it, no locking. */
    job->pool = pool != NULL && pool->wanted > 0 ? pool : NULL;
    if (job->pool == NULL || count == 0) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    if (!pool->tried) {
        start_workers(pool);
    }
    if (pool->started == 0) {
        job->pool = NULL; /* no worker could start: the waiter runs it all */
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    job->queued = true;
    job->before = pool->tail;
    if (pool->tail != NULL) {
        pool->tail->after = job;
    } else {
        pool->head = job;
    }
    pool->tail = job;
    if (count == 1) {
        pthread_cond_signal(&pool->work);
    } else {
        pthread_cond_broadcast(&pool->work);
    }
    pthread_mutex_unlock(&pool->lock);
}

bool imd__job_done(ImdJob *job)
{
    lock(job->pool);
    bool done = job->running == 0 && (job->stop || job->next >= job->count);
    unlock(job->pool);
    return done;
}

/* imd__job_finish, reporting progress from this thread when `stage` is set. */
static bool finish(ImdError **error, ImdJob *job, const char *stage)
{
    ImdPool *pool = job->pool;
    size_t index;
    lock(pool);
    while (claim(job, &index)) {
        unlock(pool);
        ImdError *failure = run(job, index);
        lock(pool);
        complete(job, index, failure);
        if (stage != NULL) {
            size_t done = job->finished;
            unlock(pool);
            imd_context_progress(job->context, stage, done, job->count);
            lock(pool);
        }
    }
    while (job->running > 0) {
        pthread_cond_wait(&pool->idle, &pool->lock); /* running > 0 only with a pool */
    }
    ImdError *failure = job->error;
    job->error = NULL;
    unlock(pool);
    if (failure != NULL) {
        imd_error_propagate(error, failure);
        return false;
    }
    if (stage != NULL) {
        imd_context_progress(job->context, stage, job->count, job->count);
    }
    return true;
}

bool imd__job_finish(ImdError **error, ImdJob *job)
{
    return finish(error, job, NULL);
}

void imd__job_cancel(ImdJob *job)
{
    ImdPool *pool = job->pool;
    lock(pool);
    job->stop = true;
    dequeue(job);
    while (job->running > 0) {
        pthread_cond_wait(&pool->idle, &pool->lock);
    }
    imd_error_clear(&job->error);
    unlock(pool);
}

bool imd__parallel(ImdError **error, const ImdContext *context, size_t count,
                   bool (*fn)(ImdError **error, void *user, size_t index), void *user,
                   const char *stage)
{
    if (context == NULL) {
        context = imd__context_current();
    }
    ImdPool *pool = NULL, *own = NULL;
    if (count > 1) {
        /*
         * Every public entry point runs with a context (imd_read() makes one
         * when given none), so a private pool, made and joined here, serves
         * only internal callers without one (tests, fuzz targets).
         */
        pool = context != NULL ? imd__context_pool(context)
                               : (own = imd__default_threads() > 1
                                            ? imd__pool_create(NULL, imd__default_threads())
                                            : NULL);
    }
    ImdJob job;
    imd__job_start(&job, pool, context, count, fn, user);
    bool ok = finish(error, &job, stage);
    imd__pool_destroy(own);
    return ok;
}
