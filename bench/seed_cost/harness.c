/*
 * harness.c -- drives the seed lwkt_thread.c through its common paths so that
 * callgrind can count the instructions of each function (bench/seed_cost.py).
 *
 *   harness --list             one line per run: name, TAB, what it drives
 *   harness RUN [ITERATIONS]   do RUN that many times (default 1000)
 *
 * Every iteration rebuilds a small world from scratch (NCPU globaldata
 * structures, a few threads, a wait queue, a token, the IPI FIFOs) in plain
 * memory, sets up the path wanted, calls the function under test once through
 * measured(), then checks that the path really was taken (exit status 4 if
 * not).  Callgrind runs with --collect-atstart=no --toggle-collect=measured,
 * so only what happens inside measured() is counted; the setup and the checks
 * are not.
 *
 * This file is also the "rest of the kernel": the external functions that the
 * seed calls are defined here, trivially.  Being in another object, their
 * instructions are charged to their own names, never to a seed function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubs.h"

#define NCPU            4
#define BASE            TDPRI_KERN_USER         /* priority of ordinary threads */
#define ASLEEP          (TDPRI_CRIT + BASE)     /* switched out inside lwkt_switch */

/* ---- globals the seed refers to ------------------------------------------ */

struct globaldata *mycpu_gd;
int ncpus = NCPU;
int hz = 100;
volatile int mp_lock = -1;              /* free; no run holds the MP lock */
const char *panicstr;
struct vm_zone *thread_zone;
vm_map_t kernel_map;

/* ---- the world ------------------------------------------------------------ */

static struct globaldata gd[NCPU];
#ifdef SEED_V1_12
static struct thread idle[NCPU];
#else
static lwkt_ipiq ipiq[NCPU][NCPU];      /* ipiq[s][d]: FIFO from cpu s to cpu d */
#endif
static struct thread A;                 /* the current thread of cpu 0 */
static struct thread B;                 /* another thread of cpu 0 */
static struct thread P;                 /* a preempted thread */
static struct thread I;                 /* an interrupt thread */
static struct thread T;                 /* a thread being created or freed */
#ifndef SEED_V1_12
static struct thread R;                 /* a thread of cpu 1 */
#endif
static struct thread W[4];              /* waiters */
static struct thread zone_td;           /* what zalloc() hands out */
static char stacks[2][UPAGES * PAGE_SIZE];
static lwkt_wait wq;
static lwkt_token tok;
static int gen;
static thread_t ret_td;
static int ret_int;

/* what the stubs saw */
static thread_t switched_to;
static int n_need_resched, n_splz, n_send_ipi, n_find;
static int sim_polls;           /* the remote cpus answer at this poll (0: never) */
static int n_remote_msgs;

static void fail(const char *what) __attribute__((noreturn));

static void
fail(const char *what)
{
    fprintf(stderr, "harness: check failed: %s\n", what);
    exit(4);
}

#define CHECK(cond)     do { if (!(cond)) fail(#cond); } while (0)

/* td_switch stand-ins.  The real one saves this thread and resumes ntd. */

/* lwkt_switch runs: curthread becomes the chosen thread. */
static void
sw_set_curthread(struct thread *ntd)
{
    switched_to = ntd;
    mycpu->gd_curthread = ntd;
}

/* The caller runs on afterwards (lwkt_block): as if ntd ran and later switched
 * back to it, so curthread stays the caller. */
static void
sw_round_trip(struct thread *ntd)
{
    switched_to = ntd;
}

/* lwkt_preempt: ntd runs, blocks, and its lwkt_switch resumes the preempted
 * thread, marking it TDF_PREEMPT_DONE as it goes. */
static void
sw_preempt_round_trip(struct thread *ntd)
{
    switched_to = ntd;
    ntd->td_preempted->td_flags |= TDF_PREEMPT_DONE;
}

static void
mkthread(struct thread *td, int cpu, int pri)
{
    memset(td, 0, sizeof(*td));
    td->td_gd = &gd[cpu];
    td->td_cpu = cpu;
    td->td_pri = pri;
    td->td_switch = sw_set_curthread;
    td->td_kstack = stacks[0];
#ifndef SEED_V1_12
    TAILQ_INSERT_TAIL(&gd[cpu].gd_tdallq, td, td_allq);
#endif
}

static void
runq_put(struct thread *td)
{
    struct globaldata *g = td->td_gd;
    int q = td->td_pri & TDPRI_MASK;

    td->td_flags |= TDF_RUNQ;
    TAILQ_INSERT_TAIL(&g->gd_tdrunq[q], td, td_threadq);
    g->gd_runqmask |= 1u << q;
}

static int
on_queue(lwkt_queue *q, struct thread *td)
{
    struct thread *x;

    TAILQ_FOREACH(x, q, td_threadq) {
        if (x == td)
            return 1;
    }
    return 0;
}

static int
on_runq(struct thread *td)
{
    return (td->td_flags & TDF_RUNQ) &&
        on_queue(&td->td_gd->gd_tdrunq[td->td_pri & TDPRI_MASK], td);
}

static void
waitq_put(struct thread *td)
{
    TAILQ_INSERT_TAIL(&wq.wa_waitq, td, td_threadq);
    ++wq.wa_count;
    td->td_wait = &wq;
}

/* A fresh world: four idle cpus, cpu 0 running A (priority BASE, not in a
 * critical section, not on its run queue), a free wait queue and token owned
 * by cpu 0, empty FIFOs. */
static void
world(void)
{
    int c, q;

    memset(gd, 0, sizeof(gd));
    for (c = 0; c < NCPU; ++c) {
        struct globaldata *g = &gd[c];
        struct thread *it;

        g->gd_cpuid = c;
        for (q = 0; q < 32; ++q)
            TAILQ_INIT(&g->gd_tdrunq[q]);
        TAILQ_INIT(&g->gd_tdfreeq);
#ifdef SEED_V1_12
        it = &idle[c];
        g->gd_idletd = it;
#else
        TAILQ_INIT(&g->gd_tdallq);
        memset(ipiq[c], 0, sizeof(ipiq[c]));
        g->gd_ipiq = ipiq[c];
        it = &g->gd_idlethread;
#endif
        memset(it, 0, sizeof(*it));
        it->td_gd = g;
        it->td_cpu = c;
        it->td_pri = TDPRI_CRIT + TDPRI_IDLE_THREAD;
        it->td_switch = sw_set_curthread;
        g->gd_curthread = it;
    }
    mycpu_gd = &gd[0];
    ncpus = NCPU;
    mp_lock = -1;

    mkthread(&A, 0, BASE);
    gd[0].gd_curthread = &A;

    memset(&wq, 0, sizeof(wq));
    TAILQ_INIT(&wq.wa_waitq);
    memset(&tok, 0, sizeof(tok));
    gen = 0;
    ret_td = NULL;
    ret_int = -12345;
    switched_to = NULL;
    n_need_resched = n_splz = n_send_ipi = n_find = 0;
    sim_polls = 0;
    n_remote_msgs = 0;
}

static struct thread *
idle_of(int cpu)
{
#ifdef SEED_V1_12
    return gd[cpu].gd_idletd;
#else
    return &gd[cpu].gd_idlethread;
#endif
}

/* ---- the external kernel, stubbed ---------------------------------------- */

void
panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "harness: panic: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(3);
}

int
stub_printf(const char *fmt, ...)
{
    (void)fmt;
    return 0;
}

int
stub_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    (void)fmt;
    (void)ap;
    if (size)
        buf[0] = '\0';
    return 0;
}

/* bzero: a loop of 4-byte (i386) or 8-byte (x86-64) word stores, with byte
 * stores for an unaligned head and for the tail. */
void
stub_bzero(void *buf, size_t len)
{
    unsigned char *p = buf;
    unsigned long *w;

    while (len > 0 && ((uintptr_t)p & (sizeof(long) - 1)) != 0) {
        *p++ = 0;
        --len;
    }
    for (w = (unsigned long *)p; len >= sizeof(long); len -= sizeof(long))
        *w++ = 0;
    for (p = (unsigned char *)w; len > 0; --len)
        *p++ = 0;
}

void *zalloc(struct vm_zone *zone) { (void)zone; return &zone_td; }
void zfree(struct vm_zone *zone, void *item) { (void)zone; (void)item; }
vm_offset_t kmem_alloc(vm_map_t map, vm_size_t size)
{ (void)map; (void)size; return (vm_offset_t)stacks[1]; }
void kmem_free(vm_map_t map, vm_offset_t addr, vm_size_t size)
{ (void)map; (void)addr; (void)size; }
void pmap_init_thread(struct thread *td)
{ td->td_pcb = (struct pcb *)(td->td_kstack + UPAGES * PAGE_SIZE); }
void cpu_set_thread_handler(struct thread *td, void (*retfunc)(void),
    void *func, void *arg)
{ (void)retfunc; (void)func; (void)arg; td->td_switch = sw_set_curthread; }
void cpu_thread_exit(void) { }
void need_resched(void) { ++n_need_resched; }
void splz(void) { ++n_splz; }
int tsleep(void *chan, int pri, const char *wmesg, int timo)
{ (void)chan; (void)pri; (void)wmesg; (void)timo; return 0; }
unsigned int read_eflags(void) { return 0x202; }
void write_eflags(unsigned int eflags) { (void)eflags; }
void cpu_enable_intr(void) { }
int cpu_try_mplock(void) { mp_lock = mycpu->gd_cpuid; return 1; }
void cpu_rel_mplock(void) { mp_lock = -1; }

#ifndef SEED_V1_12
void cpu_send_ipiq(int dcpu) { (void)dcpu; ++n_send_ipi; }

/* The other cpus, played by the harness: drain every FIFO from the current
 * cpu, running each function as the target cpu would. */
static void
remote_cpus_run(void)
{
    struct globaldata *home = mycpu_gd;
    int d;

    for (d = 0; d < ncpus; ++d) {
        lwkt_ipiq *ip = &home->gd_ipiq[d];

        if (d == home->gd_cpuid)
            continue;
        mycpu_gd = &gd[d];
        while (ip->ip_rindex != ip->ip_windex) {
            int ri = ip->ip_rindex & MAXCPUFIFO_MASK;

            ip->ip_func[ri](ip->ip_arg[ri]);
            ++ip->ip_rindex;
            ++n_remote_msgs;
        }
    }
    mycpu_gd = home;
}

/* lwkt_process_ipiq asks for each other cpu in turn; its question about the
 * first one marks one poll.  When sim_polls runs down to zero the remote
 * cpus catch up with their queues. */
struct globaldata *
globaldata_find(int cpu)
{
    ++n_find;
    if (sim_polls > 0 && cpu == (mycpu->gd_cpuid == 0 ? 1 : 0)) {
        if (--sim_polls == 0)
            remote_cpus_run();
    }
    return &gd[cpu];
}

static void ipi_noop(void *arg) { (void)arg; }

static void
fifo_put(int s, int d, ipifunc_t func, void *arg)
{
    lwkt_ipiq *ip = &ipiq[s][d];

    ip->ip_func[ip->ip_windex & MAXCPUFIFO_MASK] = func;
    ip->ip_arg[ip->ip_windex & MAXCPUFIFO_MASK] = arg;
    ++ip->ip_windex;
}
#endif

static void kthread_body(void *arg) { (void)arg; }

/* ---- the runs ------------------------------------------------------------- */

/* critical sections */
static void s_crit_enter(void) { world(); }
static void o_crit_enter(void) { crit_enter(); }
static void c_crit_enter(void) { CHECK(A.td_pri == TDPRI_CRIT + BASE); }

static void s_crit_exit(void) { world(); A.td_pri += TDPRI_CRIT; }
static void o_crit_exit(void) { crit_exit(); }
static void c_crit_exit(void) { CHECK(A.td_pri == BASE && n_splz == 0); }

/* lwkt_switch: A blocks (is off the run queue), B is the only runnable thread */
static void s_switch_pick(void) { world(); mkthread(&B, 0, ASLEEP); runq_put(&B); }
static void o_switch(void) { lwkt_switch(); }
static void c_switch_pick(void)
{
    CHECK(curthread == &B && switched_to == &B && B.td_pri == BASE);
    CHECK(gd[0].gd_runqmask == 1u << BASE);
}

/* the same with three stale bits in gd_runqmask above B's queue */
static void s_switch_stale(void) { s_switch_pick(); gd[0].gd_runqmask |= 7u << 20; }

/* I, an interrupt thread that had preempted P, blocks: P is resumed */
static void s_switch_preempted(void)
{
    world();
    mkthread(&P, 0, ASLEEP);
    P.td_flags |= TDF_PREEMPT_LOCK;
    mkthread(&I, 0, TDPRI_INT_LOW);
    I.td_preempted = &P;
    gd[0].gd_curthread = &I;
    mkthread(&B, 0, ASLEEP);
    runq_put(&B);
}
static void c_switch_preempted(void)
{
    CHECK(curthread == &P && (P.td_flags & TDF_PREEMPT_DONE));
}

/* nothing runnable: the idle thread */
static void s_switch_idle(void) { world(); }
static void c_switch_idle(void) { CHECK(curthread == idle_of(0)); }

/* lwkt_schedule of B, asleep on no wait queue, owned by this cpu */
static void s_sched_local(void) { world(); mkthread(&B, 0, ASLEEP); }
static void o_sched_B(void) { lwkt_schedule(&B); }
static void c_sched_local(void) { CHECK(on_runq(&B) && A.td_pri == BASE && n_need_resched == 0); }

/* lwkt_schedule of B, asleep on wq whose token cpu 0 owns */
static void s_sched_waitq(void) { world(); mkthread(&B, 0, ASLEEP); waitq_put(&B); }
static void c_sched_waitq(void)
{
    CHECK(on_runq(&B) && B.td_wait == NULL && wq.wa_count == 0);
    CHECK(TAILQ_EMPTY(&wq.wa_waitq) && A.td_pri == BASE);
}

#ifndef SEED_V1_12
/* lwkt_schedule of R, a thread of cpu 1: an IPI to cpu 1 */
static void s_sched_remote(void) { world(); mkthread(&R, 1, ASLEEP); }
static void o_sched_R(void) { lwkt_schedule(&R); }
static void c_sched_remote(void)
{
    CHECK(ipiq[0][1].ip_windex == 1 && ipiq[0][1].ip_func[0] == (ipifunc_t)lwkt_schedule);
    CHECK(ipiq[0][1].ip_arg[0] == &R && n_send_ipi == 1 && !on_runq(&R));
}
#endif

static void s_sched_self(void) { world(); }
static void o_sched_self(void) { lwkt_schedule_self(); }
static void c_sched_self(void) { CHECK(on_runq(&A) && A.td_pri == BASE); }

static void s_desched_self(void) { world(); runq_put(&A); }
static void o_desched_self(void) { lwkt_deschedule_self(); }
static void c_desched_self(void) { CHECK(!(A.td_flags & TDF_RUNQ) && TAILQ_EMPTY(&gd[0].gd_tdrunq[BASE])); }

static void s_desched_B(void) { world(); mkthread(&B, 0, ASLEEP); runq_put(&B); }
static void o_desched_B(void) { lwkt_deschedule(&B); }
static void c_desched_B(void) { CHECK(!(B.td_flags & TDF_RUNQ) && TAILQ_EMPTY(&gd[0].gd_tdrunq[BASE])); }

/* lwkt_yield with B runnable at the same priority: A is queued, B runs */
static void s_yield(void) { s_switch_pick(); }
static void o_yield(void) { lwkt_yield(); }
static void c_yield(void) { CHECK(curthread == &B && on_runq(&A)); }

static void s_yield_quick(void) { world(); }
static void o_yield_quick(void) { lwkt_yield_quick(); }
static void c_yield_quick(void) { CHECK(n_splz == 0 && curthread == &A); }

/* lwkt_setpri of B from BASE to TDPRI_SOFT_NORM, on and off the run queue */
static void s_setpri_runq(void) { world(); mkthread(&B, 0, ASLEEP); runq_put(&B); }
static void s_setpri_off(void) { world(); mkthread(&B, 0, ASLEEP); }
static void o_setpri(void) { lwkt_setpri(&B, TDPRI_SOFT_NORM); }
static void c_setpri_runq(void)
{
    CHECK(B.td_pri == TDPRI_CRIT + TDPRI_SOFT_NORM && on_runq(&B));
    CHECK(TAILQ_EMPTY(&gd[0].gd_tdrunq[BASE]));
}
static void c_setpri_off(void) { CHECK(B.td_pri == TDPRI_CRIT + TDPRI_SOFT_NORM && !(B.td_flags & TDF_RUNQ)); }

/* lwkt_preempt, called (as lwkt_schedule does) inside one critical section:
 * the interrupt thread I, of higher priority, preempts A (hit); a lower
 * priority thread does not (miss). */
static void
s_preempt_hit(void)
{
    world();
    A.td_pri += TDPRI_CRIT;
    A.td_switch = sw_preempt_round_trip;
    mkthread(&I, 0, TDPRI_CRIT + TDPRI_INT_LOW);
}
static void o_preempt(void) { lwkt_preempt(&I, TDPRI_CRIT); }
static void c_preempt_hit(void)
{
    CHECK(switched_to == &I && I.td_preempted == NULL && curthread == &A);
    CHECK((A.td_flags & (TDF_PREEMPT_LOCK | TDF_PREEMPT_DONE)) == 0);
}
static void
s_preempt_miss(void)
{
    s_preempt_hit();
    I.td_pri = TDPRI_CRIT + TDPRI_USER_NORM;
}
static void c_preempt_miss(void) { CHECK(switched_to == NULL && n_need_resched == 0); }

/* lwkt_block: A (on its run queue) blocks on wq, whose token cpu 0 owns;
 * lwkt_switch picks B; A runs on once switched back. */
static void
s_block(void)
{
    world();
    A.td_switch = sw_round_trip;
    runq_put(&A);
    mkthread(&B, 0, ASLEEP);
    runq_put(&B);
    gen = wq.wa_gen;
}
static void o_block(void) { lwkt_block(&wq, "harness", &gen); }
static void c_block(void)
{
    CHECK(switched_to == &B && A.td_wait == &wq && on_queue(&wq.wa_waitq, &A));
    CHECK(!(A.td_flags & TDF_RUNQ) && wq.wa_count == 1 && A.td_pri == BASE);
}

/* lwkt_signal of wq with 0, 1 or 4 waiters of cpu 0 */
static int n_waiters;
static void
s_signal(void)
{
    int i;

    world();
    for (i = 0; i < n_waiters; ++i) {
        mkthread(&W[i], 0, ASLEEP);
        waitq_put(&W[i]);
    }
}
static void s_signal0(void) { n_waiters = 0; s_signal(); }
static void s_signal1(void) { n_waiters = 1; s_signal(); }
static void s_signal4(void) { n_waiters = 4; s_signal(); }
static void o_signal(void) { lwkt_signal(&wq); }
static void
c_signal(void)
{
    int i;

    CHECK(wq.wa_count == 0 && TAILQ_EMPTY(&wq.wa_waitq) && A.td_pri == BASE);
    for (i = 0; i < n_waiters; ++i)
        CHECK(on_runq(&W[i]) && W[i].td_wait == NULL);
}

/* tokens owned by this cpu */
static void s_token(void) { world(); }
static void s_token_held(void) { world(); A.td_pri += TDPRI_CRIT; }
static void o_gettoken(void) { lwkt_gettoken(&tok); }
static void c_gettoken(void) { CHECK(A.td_pri == TDPRI_CRIT + BASE && tok.t_cpu == 0); }
static void o_reltoken(void) { lwkt_reltoken(&tok); }
static void c_reltoken(void) { CHECK(A.td_pri == BASE && tok.t_cpu == 0); }
static void o_regettoken(void) { ret_int = lwkt_regettoken(&tok); }
static void c_regettoken(void) { CHECK(A.td_pri == TDPRI_CRIT + BASE && tok.t_cpu == 0); }

#ifndef SEED_V1_12
static void o_trytoken(void) { ret_int = lwkt_trytoken(&tok); }
static void c_trytoken(void) { CHECK(ret_int == 1 && A.td_pri == TDPRI_CRIT + BASE); }
static void s_gentoken(void) { s_token_held(); tok.t_gen = 5; gen = 5; }
static void o_gentoken(void) { ret_int = lwkt_gentoken(&tok, &gen); }
static void c_gentoken(void) { CHECK(ret_int == 0 && gen == 5); }
static void s_inittoken(void) { world(); tok.t_cpu = 2; tok.t_gen = 9; }
static void o_inittoken(void) { lwkt_inittoken(&tok); }
static void c_inittoken(void) { CHECK(tok.t_cpu == 0 && tok.t_gen == 0); }

/* lwkt_gettoken of a token cpu 1 owns: an IPI to cpu 1, which hands the
 * token over (lwkt_gettoken_remote) when cpu 0 first polls */
static void s_gettoken_remote(void) { world(); tok.t_cpu = tok.t_reqcpu = 1; sim_polls = 1; }
static void c_gettoken_remote(void)
{
    CHECK(tok.t_cpu == 0 && n_remote_msgs == 1 && A.td_pri == TDPRI_CRIT + BASE);
}

/* IPI FIFOs */
static void s_send_ipiq(void) { world(); A.td_pri += TDPRI_CRIT; }
static void o_send_ipiq(void) { ret_int = lwkt_send_ipiq(1, ipi_noop, NULL); }
static void c_send_ipiq(void)
{
    CHECK(ret_int == 1 && ipiq[0][1].ip_windex == 1 && n_send_ipi == 1);
    CHECK(gd[0].gd_intr_nesting_level == 0);
}

static void s_wait_done(void) { s_send_ipiq(); fifo_put(0, 1, ipi_noop, NULL); ipiq[0][1].ip_rindex = 1; }
static void o_wait_ipiq(void) { lwkt_wait_ipiq(1, 1); }
static void c_wait_done(void) { CHECK(n_find == 0); }

static int n_polls;
static void s_wait_polls(void) { s_send_ipiq(); fifo_put(0, 1, ipi_noop, NULL); sim_polls = n_polls; }
static void s_wait_poll1(void) { n_polls = 1; s_wait_polls(); }
static void s_wait_poll4(void) { n_polls = 4; s_wait_polls(); }
static void c_wait_polls(void)
{
    CHECK(ipiq[0][1].ip_rindex == 1 && n_remote_msgs == 1 && n_find == 3 * n_polls);
}

static int n_msgs;
static void
s_process(void)
{
    int i;

    s_send_ipiq();
    for (i = 0; i < n_msgs; ++i)
        fifo_put(1, 0, ipi_noop, NULL);
}
static void s_process_empty(void) { n_msgs = 0; s_process(); }
static void s_process_empty2(void) { n_msgs = 0; s_process(); ncpus = 2; }
static void s_process_1msg(void) { n_msgs = 1; s_process(); }
static void s_process_4msg(void) { n_msgs = 4; s_process(); }
static void o_process_ipiq(void) { lwkt_process_ipiq(); }
static void c_process(void)
{
    CHECK(ipiq[1][0].ip_rindex == n_msgs && n_find == ncpus - 1);
}
#endif /* !SEED_V1_12 */

/* thread life cycle */
#define ALLOC_FLAGS     (TDF_ALLOCATED_THREAD | TDF_ALLOCATED_STACK)

/* T exited and sits in cpu 0's cache of free threads */
static void
s_cached(void)
{
    world();
    memset(&T, 0, sizeof(T));
    T.td_flags = TDF_EXITED | ALLOC_FLAGS;
    T.td_kstack = stacks[0];
    TAILQ_INSERT_TAIL(&gd[0].gd_tdfreeq, &T, td_threadq);
    gd[0].gd_tdfreecount = 1;
}
static void o_alloc(void) { ret_td = lwkt_alloc_thread(NULL); }
static void
c_alloc_cached(void)
{
    CHECK(ret_td == &T && T.td_flags == ALLOC_FLAGS && T.td_pri == TDPRI_CRIT);
    CHECK(T.td_kstack == stacks[0] && gd[0].gd_tdfreecount == 0 && A.td_pri == BASE);
#ifndef SEED_V1_12
    CHECK(TAILQ_LAST(&gd[0].gd_tdallq, lwkt_queue) == &T);
#endif
}

static void s_fresh(void) { world(); }
static void
c_alloc_fresh(void)
{
    CHECK(ret_td == &zone_td && zone_td.td_flags == ALLOC_FLAGS);
    CHECK(zone_td.td_kstack == stacks[1] && A.td_pri == BASE);
}

static void s_init_thread(void) { world(); memset(&T, 0x5a, sizeof(T)); }
static void o_init_thread(void) { lwkt_init_thread(&T, stacks[0], 0, &gd[0]); }
static void c_init_thread(void) { CHECK(T.td_pri == TDPRI_CRIT && T.td_flags == 0 && T.td_gd == &gd[0]); }

/* T has exited; the cache has room */
static void
s_free(void)
{
    world();
    mkthread(&T, 0, TDPRI_CRIT);
    T.td_flags = TDF_EXITED | ALLOC_FLAGS;
}
static void o_free(void) { lwkt_free_thread(&T); }
static void c_free(void) { CHECK(TAILQ_FIRST(&gd[0].gd_tdfreeq) == &T && gd[0].gd_tdfreecount == 1); }

/* lwkt_create of a kernel thread, taken from the cache, scheduled here */
static void o_create(void)
{
    ret_int = lwkt_create(kthread_body, NULL, &ret_td, NULL, 0, "kthread%d", 1);
}
static void
c_create(void)
{
    CHECK(ret_int == 0 && ret_td == &T && on_runq(&T) && (T.td_flags & TDF_VERBOSE));
    CHECK(A.td_pri == BASE && n_need_resched == 0);
}

/* lwkt_exit of A, a kernel thread made by lwkt_create (TDF_VERBOSE) */
static void s_exit(void) { world(); A.td_flags |= TDF_VERBOSE; runq_put(&A); }
static void o_exit(void) { lwkt_exit(); }
static void
c_exit(void)
{
    CHECK(!(A.td_flags & TDF_RUNQ) && TAILQ_FIRST(&gd[0].gd_tdfreeq) == &A);
    CHECK(gd[0].gd_tdfreecount == 1);
}

#ifndef SEED_V1_12
/* lwkt_acquire of T, a thread of cpu 1, by cpu 0 */
static void s_acquire(void) { world(); mkthread(&T, 1, ASLEEP); }
static void o_acquire(void) { lwkt_acquire(&T); }
static void c_acquire(void)
{
    CHECK(T.td_gd == &gd[0] && T.td_cpu == 0 && TAILQ_EMPTY(&gd[1].gd_tdallq));
    CHECK(TAILQ_LAST(&gd[0].gd_tdallq, lwkt_queue) == &T && A.td_pri == BASE);
}

static void s_hold(void) { world(); mkthread(&T, 0, ASLEEP); T.td_refs = 1; }
static void o_hold(void) { lwkt_hold(&T); }
static void c_hold(void) { CHECK(T.td_refs == 2); }
static void o_rele(void) { lwkt_rele(&T); }
static void c_rele(void) { CHECK(T.td_refs == 0); }
#endif

/* lwkt_create's 5.x-style sibling */
static void o_kthread_create(void)
{
    ret_int = kthread_create(kthread_body, NULL, &ret_td, "kthread%d", 1);
}

/* boot-time set-up of cpu 2's run queues */
static void o_gdinit(void) { lwkt_gdinit(&gd[2]); }
static void
c_gdinit(void)
{
    int q;

    for (q = 0; q < 32; ++q)
        CHECK(TAILQ_EMPTY(&gd[2].gd_tdrunq[q]));
    CHECK(gd[2].gd_runqmask == 0);
}

/* lwkt_setpri_self: A, running and so on its run queue, moves queues */
static void s_setpri_self(void) { world(); runq_put(&A); }
static void o_setpri_self(void) { lwkt_setpri_self(TDPRI_SOFT_NORM); }
static void c_setpri_self(void) { CHECK(A.td_pri == TDPRI_SOFT_NORM && on_runq(&A)); }

/* lwkt_preempted_proc: A preempted nothing and has no process */
static void o_preempted_proc(void) { ret_td = (thread_t)lwkt_preempted_proc(); }
static void c_preempted_proc(void) { CHECK(ret_td == NULL); }

static void s_init_wait(void) { world(); memset(&wq, 0x5a, sizeof(wq)); }
static void o_init_wait(void) { lwkt_init_wait(&wq); }
static void c_init_wait(void) { CHECK(TAILQ_EMPTY(&wq.wa_waitq)); }

struct run {
    const char *name;
    const char *what;
    void (*setup)(void);
    void (*op)(void);
    void (*check)(void);
};

static const struct run runs[] = {
    { "crit_enter", "crit_enter() outside any critical section",
      s_crit_enter, o_crit_enter, c_crit_enter },
    { "crit_exit", "crit_exit() of the last critical section, nothing pending",
      s_crit_exit, o_crit_exit, c_crit_exit },
    { "switch/pick", "lwkt_switch(): A blocked, B the one runnable thread",
      s_switch_pick, o_switch, c_switch_pick },
    { "switch/pick+3stale", "lwkt_switch(): as switch/pick, 3 stale runqmask bits above B",
      s_switch_stale, o_switch, c_switch_pick },
    { "switch/preempted", "lwkt_switch(): an interrupt thread blocks, the preempted thread resumes",
      s_switch_preempted, o_switch, c_switch_preempted },
    { "switch/idle", "lwkt_switch(): run queues empty, the idle thread runs",
      s_switch_idle, o_switch, c_switch_idle },
    { "schedule/local", "lwkt_schedule(B): B of this cpu, on no wait queue",
      s_sched_local, o_sched_B, c_sched_local },
    { "schedule/waitq", "lwkt_schedule(B): B on a wait queue whose token this cpu owns",
      s_sched_waitq, o_sched_B, c_sched_waitq },
#ifndef SEED_V1_12
    { "schedule/remote", "lwkt_schedule(R): R of cpu 1, sent by IPI",
      s_sched_remote, o_sched_R, c_sched_remote },
#endif
    { "schedule_self", "lwkt_schedule_self(): A goes on its run queue",
      s_sched_self, o_sched_self, c_sched_self },
    { "deschedule_self", "lwkt_deschedule_self(): A leaves its run queue",
      s_desched_self, o_desched_self, c_desched_self },
    { "deschedule/local", "lwkt_deschedule(B): B of this cpu leaves its run queue",
      s_desched_B, o_desched_B, c_desched_B },
    { "yield", "lwkt_yield(): A queued behind B of equal priority, B runs",
      s_yield, o_yield, c_yield },
    { "yield_quick", "lwkt_yield_quick(): nothing pending",
      s_yield_quick, o_yield_quick, c_yield_quick },
    { "setpri/runq", "lwkt_setpri(B, 14): B on a run queue moves queues",
      s_setpri_runq, o_setpri, c_setpri_runq },
    { "setpri/off", "lwkt_setpri(B, 14): B on no run queue",
      s_setpri_off, o_setpri, c_setpri_off },
    { "preempt/hit", "lwkt_preempt(I, TDPRI_CRIT): I of higher priority preempts A and returns",
      s_preempt_hit, o_preempt, c_preempt_hit },
    { "preempt/miss", "lwkt_preempt(I, TDPRI_CRIT): I of lower priority, no preemption",
      s_preempt_miss, o_preempt, c_preempt_miss },
    { "block", "lwkt_block(): A blocks on a wait queue whose token this cpu owns, B runs",
      s_block, o_block, c_block },
    { "signal/0", "lwkt_signal(): no waiter",
      s_signal0, o_signal, c_signal },
    { "signal/1", "lwkt_signal(): one waiter of this cpu",
      s_signal1, o_signal, c_signal },
    { "signal/4", "lwkt_signal(): four waiters of this cpu",
      s_signal4, o_signal, c_signal },
    { "gettoken/local", "lwkt_gettoken(): token owned by this cpu",
      s_token, o_gettoken, c_gettoken },
    { "reltoken/local", "lwkt_reltoken(): token owned by this cpu",
      s_token_held, o_reltoken, c_reltoken },
    { "regettoken/local", "lwkt_regettoken(): token still owned by this cpu",
      s_token_held, o_regettoken, c_regettoken },
#ifndef SEED_V1_12
    { "trytoken/local", "lwkt_trytoken(): token owned by this cpu",
      s_token, o_trytoken, c_trytoken },
    { "gentoken/local", "lwkt_gentoken(): token kept, generation unchanged",
      s_gentoken, o_gentoken, c_gentoken },
    { "inittoken", "lwkt_inittoken()",
      s_inittoken, o_inittoken, c_inittoken },
    { "gettoken/remote", "lwkt_gettoken(): token owned by cpu 1, handed over at the first poll",
      s_gettoken_remote, o_gettoken, c_gettoken_remote },
    { "send_ipiq", "lwkt_send_ipiq(1, f, arg): FIFO to cpu 1 empty",
      s_send_ipiq, o_send_ipiq, c_send_ipiq },
    { "wait_ipiq/done", "lwkt_wait_ipiq(1, seq): already processed",
      s_wait_done, o_wait_ipiq, c_wait_done },
    { "wait_ipiq/poll1", "lwkt_wait_ipiq(1, seq): done at the first poll",
      s_wait_poll1, o_wait_ipiq, c_wait_polls },
    { "wait_ipiq/poll4", "lwkt_wait_ipiq(1, seq): done at the fourth poll",
      s_wait_poll4, o_wait_ipiq, c_wait_polls },
    { "process_ipiq/empty", "lwkt_process_ipiq(): 4 cpus, 3 empty source FIFOs",
      s_process_empty, o_process_ipiq, c_process },
    { "process_ipiq/empty-2cpu", "lwkt_process_ipiq(): ncpus = 2, 1 empty source FIFO",
      s_process_empty2, o_process_ipiq, c_process },
    { "process_ipiq/1msg", "lwkt_process_ipiq(): one message from cpu 1",
      s_process_1msg, o_process_ipiq, c_process },
    { "process_ipiq/4msg", "lwkt_process_ipiq(): four messages from cpu 1",
      s_process_4msg, o_process_ipiq, c_process },
#endif
    { "alloc_thread/cache", "lwkt_alloc_thread(NULL): from the per-cpu free cache",
      s_cached, o_alloc, c_alloc_cached },
    { "alloc_thread/fresh", "lwkt_alloc_thread(NULL): cache empty, zalloc and kmem_alloc",
      s_fresh, o_alloc, c_alloc_fresh },
    { "init_thread", "lwkt_init_thread(): includes bzero of struct thread",
      s_init_thread, o_init_thread, c_init_thread },
    { "free_thread", "lwkt_free_thread(): into the per-cpu free cache",
      s_free, o_free, c_free },
    { "create", "lwkt_create(): thread from the cache, scheduled on this cpu",
      s_cached, o_create, c_create },
    { "exit", "lwkt_exit(): TDF_VERBOSE thread, cpu_thread_exit() returns",
      s_exit, o_exit, c_exit },
#ifndef SEED_V1_12
    { "acquire", "lwkt_acquire(T): T of cpu 1 moves to this cpu",
      s_acquire, o_acquire, c_acquire },
    { "hold", "lwkt_hold()", s_hold, o_hold, c_hold },
    { "rele", "lwkt_rele()", s_hold, o_rele, c_rele },
#endif
    { "kthread_create", "kthread_create(): thread from the cache, scheduled on this cpu",
      s_cached, o_kthread_create, c_create },
    { "gdinit", "lwkt_gdinit() of another cpu's globaldata",
      s_fresh, o_gdinit, c_gdinit },
    { "setpri_self", "lwkt_setpri_self(14): A on its run queue moves queues",
      s_setpri_self, o_setpri_self, c_setpri_self },
    { "preempted_proc", "lwkt_preempted_proc(): nothing preempted",
      s_fresh, o_preempted_proc, c_preempted_proc },
    { "init_wait", "lwkt_init_wait()", s_init_wait, o_init_wait, c_init_wait },
};

#define NRUNS   (sizeof(runs) / sizeof(runs[0]))

/* The only function callgrind collects in (--toggle-collect=measured). */
__attribute__((noinline)) void
measured(void (*op)(void))
{
    op();
    __asm__ __volatile__("" ::: "memory");
}

int
main(int argc, char **argv)
{
    const struct run *r = NULL;
    long i, n = 1000;
    size_t k;

    if (argc >= 2 && strcmp(argv[1], "--list") == 0) {
        for (k = 0; k < NRUNS; ++k)
            printf("%s\t%s\n", runs[k].name, runs[k].what);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--sizes") == 0) {
        printf("struct thread\t%zu\nstruct globaldata\t%zu\n",
            sizeof(struct thread), sizeof(struct globaldata));
        return 0;
    }
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s --list | --sizes | RUN [ITERATIONS]\n", argv[0]);
        return 2;
    }
    for (k = 0; k < NRUNS; ++k) {
        if (strcmp(runs[k].name, argv[1]) == 0)
            r = &runs[k];
    }
    if (r == NULL) {
        fprintf(stderr, "harness: no run named %s\n", argv[1]);
        return 2;
    }
    if (argc == 3)
        n = strtol(argv[2], NULL, 10);
    for (i = 0; i < n; ++i) {
        r->setup();
        measured(r->op);
        r->check();
    }
    return 0;
}
