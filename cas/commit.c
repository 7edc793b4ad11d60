/* Group commit of attestations. Each attestation stores its instance and its
 * audit row durably before keys are released (synchronous=FULL: one fsync per
 * commit). Attestations that arrive while a commit is under way wait for the
 * next one, which then holds them all: one fsync for the group instead of one
 * each, and the same guarantee, since each reply still waits for the commit
 * that holds its own rows. A group that fails is retried one attestation at a
 * time, so one bad row refuses only its own attestation. */
#include <pthread.h>
#include <stdio.h>

#include "cas/internal.h"

/* A bound on one transaction's size: a group never waits on an unbounded one. */
#define GROUP_MAX 32

typedef struct cas_commit_item {
    cella_cas_attested a;
    struct cas_commit_item *next;
    bool done;
    cella_code code; /* CELLA_OK when stored */
    char what[512], where[256];
} cas_commit_item;

void cas_commits_init(cas_commits *c)
{
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->done, NULL);
    c->head = NULL;
    c->busy = false;
}

void cas_commits_destroy(cas_commits *c)
{
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->lock);
}

size_t cas_commits_queued(cas_commits *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = 0;
    for (const cas_commit_item *it = c->head; it; it = it->next)
        n++;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void record(cas_commit_item *it, cella_res r)
{
    it->code = r.code;
    if (!cella_ok(r)) {
        snprintf(it->what, sizeof it->what, "%s", cella_error_what());
        snprintf(it->where, sizeof it->where, "%s", cella_error_where());
    }
}

/* Stores a group with this thread's connection; each item gets its result. */
static void store_group(cas_thread *t, cas_commit_item *group, size_t n)
{
    cella_cas_attested a[GROUP_MAX];
    size_t i = 0;
    for (cas_commit_item *it = group; it && i < n; it = it->next)
        a[i++] = it->a;
    cella_res r = cella_cas_instances_put_audited(t->st, a, n);
    if (cella_ok(r) || n == 1) {
        for (cas_commit_item *it = group; it; it = it->next)
            record(it, r);
        return;
    }
    for (cas_commit_item *it = group; it; it = it->next)
        record(it, cella_cas_instances_put_audited(t->st, &it->a, 1));
}

/* Takes up to GROUP_MAX queued items (called with the lock held). */
static cas_commit_item *take_group(cas_commits *c, size_t *n)
{
    cas_commit_item *group = c->head, *last = group;
    *n = 1;
    while (last->next && *n < GROUP_MAX) {
        last = last->next;
        (*n)++;
    }
    c->head = last->next;
    last->next = NULL;
    return group;
}

cella_res cas_commit_attested(cas_thread *t, const cella_cas_attested *a)
{
    cas_commits *c = &t->app->commits;
    cas_commit_item me = {.a = *a};
    pthread_mutex_lock(&c->lock);
    cas_commit_item **end = &c->head;
    while (*end)
        end = &(*end)->next;
    *end = &me;
    while (!me.done) {
        if (c->busy) {
            pthread_cond_wait(&c->done, &c->lock);
            continue;
        }
        /* No commit under way: this thread commits the queue, its own item
         * first in line unless earlier ones fill the group (then it loops). */
        c->busy = true;
        size_t n;
        cas_commit_item *group = take_group(c, &n);
        pthread_mutex_unlock(&c->lock);
        store_group(t, group, n);
        pthread_mutex_lock(&c->lock);
        for (cas_commit_item *it = group, *next; it; it = next) {
            next = it->next; /* a waiter may return, and its item go, once done */
            it->done = true;
        }
        c->busy = false;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->lock);
    if (me.code == CELLA_OK)
        return CELLA_OK_RES;
    return cella_fail(me.code, me.where, "%s", me.what);
}
