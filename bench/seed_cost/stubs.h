/*
 * stubs.h -- a stand-in for the kernel headers that the seed
 * sys/kern/lwkt_thread.c (DragonFly BSD, mid-2003) includes, so that the seed
 * compiles as an ordinary user-space object whose instructions callgrind can
 * count.  Written for bench/seed_cost; nothing here is DragonFly code.
 *
 * bench/seed_cost.py points every <...> header named by the seed at this
 * file and sets these switches:
 *
 *   SMP          the SMP build (seed v1.18)
 *   SEED_V1_12   structure layouts and prototypes of the v1.12 era
 *                (end of June 2003: no tdallq, no IPI queues, no td_refs)
 *   INVARIANTS   KASSERT/KKASSERT compiled in (always on here)
 *   SEED_TU      set only while compiling the seed itself: the critical
 *                section functions are defined in that object, and a few
 *                libc names are renamed to the harness's stubs
 *
 * The external functions declared below (panic, zalloc, need_resched, ...)
 * are defined, trivially, in harness.c, a separate object: their cost shows
 * up under their own names in callgrind and never in a seed function's self
 * cost.
 */
#ifndef SEED_COST_STUBS_H
#define SEED_COST_STUBS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>          /* the host's TAILQ_* macros */

/* ---- basic types and constants (i386 kernel of 2003) ------------------ */

typedef unsigned char   u_char;
typedef unsigned int    u_int;
typedef uint32_t        u_int32_t;
typedef uint64_t        u_int64_t;
typedef int64_t         quad_t;
typedef uintptr_t       vm_offset_t;
typedef uintptr_t       vm_size_t;

#define MAXCOMLEN       16      /* command name length, without the NUL */
#define MAXCPU          16
#define PAGE_SIZE       4096
#define UPAGES          2       /* pages of kernel stack per thread */
#define PWAIT           76      /* a sleep priority, only named by the seed */
#define SSLEEP          3       /* proc p_stat: sleeping */

/* SYSCTL declarations vanish. */
#define SYSCTL_INT(...)
#define SYSCTL_QUAD(...)

/* ---- assertions (INVARIANTS) and console ------------------------------- */

void panic(const char *fmt, ...) __attribute__((noreturn));
extern const char *panicstr;

#ifdef INVARIANTS
#define KASSERT(cond, args) \
    do { if (__builtin_expect(!(cond), 0)) panic args; } while (0)
#define KKASSERT(cond) \
    do { if (__builtin_expect(!(cond), 0)) \
        panic("assertion \"%s\" failed in %s", #cond, __func__); } while (0)
#else
#define KASSERT(cond, args)     do { } while (0)
#define KKASSERT(cond)          do { } while (0)
#endif

/* ---- processes, only what the seed looks at ---------------------------- */

struct proc {
    int         p_pid;
    char        p_stat;
};

/* ---- LWKT types (sys/thread.h of the time, re-typed) ------------------- */

struct thread;
struct globaldata;
struct pcb;

typedef struct thread   *thread_t;
typedef TAILQ_HEAD(lwkt_queue, thread) lwkt_queue;

typedef struct lwkt_token {
    int         t_cpu;          /* cpu that owns the token */
    int         t_reqcpu;       /* cpu it goes to when released */
#ifndef SEED_V1_12
    int         t_gen;          /* bumped on every acquisition */
#endif
} lwkt_token;
typedef lwkt_token *lwkt_token_t;

typedef struct lwkt_wait {
    lwkt_queue  wa_waitq;       /* threads blocked here */
    lwkt_token  wa_token;       /* guards the queue */
    int         wa_gen;
    int         wa_count;
} lwkt_wait;
typedef lwkt_wait *lwkt_wait_t;

typedef void (*ipifunc_t)(void *arg);

#ifndef SEED_V1_12
#define MAXCPUFIFO      32      /* entries per cpu-to-cpu FIFO, a power of 2 */
#define MAXCPUFIFO_MASK (MAXCPUFIFO - 1)

typedef struct lwkt_ipiq {
    int         ip_rindex;      /* advanced by the receiving cpu */
    int         ip_windex;      /* advanced by the sending cpu */
    ipifunc_t   ip_func[MAXCPUFIFO];
    void        *ip_arg[MAXCPUFIFO];
} lwkt_ipiq;
typedef lwkt_ipiq *lwkt_ipiq_t;
#endif

struct md_thread {
    u_int       mtd_cpl;        /* i386: saved interrupt mask */
};

struct thread {
    TAILQ_ENTRY(thread) td_threadq;     /* run, wait or free queue */
#ifndef SEED_V1_12
    TAILQ_ENTRY(thread) td_allq;        /* all threads of a cpu */
#endif
    struct proc *td_proc;               /* owning process, if any */
    struct pcb  *td_pcb;
    struct globaldata *td_gd;           /* cpu the thread belongs to */
    const char  *td_wmesg;              /* why it is blocked */
    void        *td_wchan;
    int         td_cpu;                 /* cpu id of td_gd */
    int         td_pri;                 /* 0..31 plus TDPRI_CRIT * nesting */
    int         td_flags;               /* TDF_* */
    int         td_gen;
#ifndef SEED_V1_12
    void        (*td_preemptable)(struct thread *td, int critpri);
    void        (*td_release)(struct thread *td);
    union {
        void    *intdata;
    } td_info;
#endif
    char        *td_kstack;
    char        *td_sp;                 /* saved stack pointer */
    void        (*td_switch)(struct thread *ntd);
    lwkt_wait_t td_wait;                /* wait queue it is on */
    u_int64_t   td_uticks;
    u_int64_t   td_sticks;
    u_int64_t   td_iticks;
    int         td_locks;
#ifndef SEED_V1_12
    int         td_refs;                /* lwkt_hold() count */
    int         td_mpcount;             /* MP lock nesting (SMP) */
#endif
    char        td_comm[MAXCOMLEN + 1];
    struct thread *td_preempted;        /* thread this one preempted */
    struct md_thread td_mach;
};

/* td_flags */
#define TDF_EXITED              0x0001
#define TDF_RUNQ                0x0002
#define TDF_PREEMPT_LOCK        0x0004
#define TDF_PREEMPT_DONE        0x0008
#define TDF_IDLE_NOHLT          0x0010
#define TDF_ALLOCATED_THREAD    0x0200
#define TDF_ALLOCATED_STACK     0x0400
#define TDF_VERBOSE             0x0800
#define TDF_DEADLKTREAT         0x1000
#define TDF_STOPREQ             0x2000
#define TDF_WAKEREQ             0x4000
#define TDF_TIMEOUT             0x8000

/* td_pri: a 5-bit priority, the bits above count critical sections */
#define TDPRI_IDLE_THREAD       0
#define TDPRI_USER_NORM         6
#define TDPRI_KERN_USER         10
#define TDPRI_SOFT_NORM         14
#define TDPRI_INT_LOW           27
#define TDPRI_INT_HIGH          29
#define TDPRI_MAX               31
#define TDPRI_MASK              31
#define TDPRI_CRIT              32

#define CACHE_NTHREADS          6       /* free threads kept per cpu */

/* ---- per-cpu data ------------------------------------------------------- */

struct globaldata {
    struct thread *gd_curthread;
    int         gd_cpuid;
    u_int       gd_other_cpus;
    int         gd_intr_nesting_level;
    int         gd_reqpri;              /* pending interrupt priority */
    u_int32_t   gd_runqmask;            /* non-empty run queues (lazy) */
    lwkt_queue  gd_tdrunq[32];
#ifndef SEED_V1_12
    lwkt_queue  gd_tdallq;
#endif
    lwkt_queue  gd_tdfreeq;             /* cache of exited threads */
    int         gd_tdfreecount;
#ifdef SEED_V1_12
    struct thread *gd_idletd;
#else
    lwkt_ipiq_t gd_ipiq;                /* this cpu's FIFOs, one per target */
    struct thread gd_idlethread;
#endif
};

/* The current cpu: a plain global pointer here (%fs-relative in 2003). */
extern struct globaldata *mycpu_gd;
#define mycpu           mycpu_gd
#define curthread       (mycpu->gd_curthread)

extern int ncpus;
extern int hz;

/* Index of the highest set bit: one bsrl instruction, inline, as in the
 * i386 kernel (31 - __builtin_clz would cost gcc three more). */
static inline __attribute__((always_inline)) int
bsrl(u_int mask)
{
    int bit;

    __asm__("bsrl %1, %0" : "=r" (bit) : "rm" (mask));
    return bit;
}

/* ---- MP lock (i386 of the time: a word holding the owner's cpu id) ------ */

extern volatile int mp_lock;
#define MP_LOCK_HELD()          (mp_lock == mycpu->gd_cpuid)
#define ASSERT_MP_LOCK_HELD()   KKASSERT(MP_LOCK_HELD())
int     cpu_try_mplock(void);
void    cpu_rel_mplock(void);

/* ---- external kernel services, stubbed in harness.c --------------------- */

struct vm_zone;
struct vm_map;
typedef struct vm_map *vm_map_t;
extern struct vm_zone *thread_zone;
extern vm_map_t kernel_map;

void    *zalloc(struct vm_zone *zone);
void    zfree(struct vm_zone *zone, void *item);
vm_offset_t kmem_alloc(vm_map_t map, vm_size_t size);
void    kmem_free(vm_map_t map, vm_offset_t addr, vm_size_t size);
void    pmap_init_thread(struct thread *td);
void    cpu_set_thread_handler(struct thread *td, void (*retfunc)(void),
            void *func, void *arg);
void    cpu_thread_exit(void);          /* returns here (harness) */
void    need_resched(void);
void    splz(void);
int     tsleep(void *chan, int pri, const char *wmesg, int timo);
unsigned int read_eflags(void);
void    write_eflags(unsigned int eflags);
void    cpu_enable_intr(void);
#ifndef SEED_V1_12
void    cpu_send_ipiq(int dcpu);
struct globaldata *globaldata_find(int cpu);
#endif

/* libc names used by the seed; the harness provides small versions. */
int     stub_printf(const char *fmt, ...);
int     stub_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
void    stub_bzero(void *buf, size_t len);

/* ---- the seed's own functions ------------------------------------------- */

void    lwkt_gdinit(struct globaldata *gd);
void    lwkt_init_wait(lwkt_wait_t w);
thread_t lwkt_alloc_thread(struct thread *template);
void    lwkt_init_thread(thread_t td, void *stack, int flags,
            struct globaldata *gd);
void    lwkt_set_comm(thread_t td, const char *ctl, ...);
void    lwkt_hold(thread_t td);
void    lwkt_rele(thread_t td);
void    lwkt_wait_free(thread_t td);
void    lwkt_free_thread(thread_t td);
void    lwkt_switch(void);
void    lwkt_preempt(thread_t ntd, int critpri);
void    lwkt_yield_quick(void);
void    lwkt_yield(void);
void    lwkt_schedule_self(void);
void    lwkt_schedule(thread_t td);
void    lwkt_acquire(thread_t td);
void    lwkt_deschedule_self(void);
void    lwkt_deschedule(thread_t td);
void    lwkt_setpri(thread_t td, int pri);
void    lwkt_setpri_self(int pri);
struct proc *lwkt_preempted_proc(void);
void    lwkt_block(lwkt_wait_t w, const char *wmesg, int *gen);
void    lwkt_signal(lwkt_wait_t w);
#ifdef SEED_V1_12
void    lwkt_gettoken(lwkt_token_t tok);
#else
int     lwkt_gettoken(lwkt_token_t tok);
int     lwkt_trytoken(lwkt_token_t tok);
int     lwkt_gentoken(lwkt_token_t tok, int *gen);
void    lwkt_inittoken(lwkt_token_t tok);
int     lwkt_send_ipiq(int dcpu, ipifunc_t func, void *arg);
void    lwkt_wait_ipiq(int dcpu, int seq);
void    lwkt_process_ipiq(void);
#endif
void    lwkt_reltoken(lwkt_token_t tok);
int     lwkt_regettoken(lwkt_token_t tok);
int     lwkt_create(void (*func)(void *), void *arg, struct thread **tdp,
            thread_t template, int tdflags, const char *fmt, ...);
void    lwkt_exit(void);
int     kthread_create(void (*func)(void *), void *arg, struct thread **tdp,
            const char *fmt, ...);
void    kthread_exit(void);
void    crit_panic(void);

/* Critical sections, as sys/thread2.h had them, but out of line so that
 * callgrind counts them under their own names. */
void    crit_enter(void);
void    crit_exit(void);
void    crit_exit_noyield(void);

#ifdef SEED_V1_12
/* v1.12 asks whether this cpu owns a token; a one-line inline then. */
static inline __attribute__((always_inline)) int
lwkt_havetoken(lwkt_token_t tok)
{
    return tok->t_cpu == mycpu->gd_cpuid;
}
#endif

#ifdef SEED_TU

#define printf          stub_printf
#define vsnprintf       stub_vsnprintf
#define bzero           stub_bzero

/* The seed's static __inline run-queue helpers become separate functions. */
#define __inline        __attribute__((noinline))

__attribute__((noinline)) void
crit_enter(void)
{
    struct thread *td = curthread;

    td->td_pri += TDPRI_CRIT;
}

__attribute__((noinline)) void
crit_exit_noyield(void)
{
    struct thread *td = curthread;

    td->td_pri -= TDPRI_CRIT;
    if (td->td_pri < 0)
        crit_panic();
}

__attribute__((noinline)) void
crit_exit(void)
{
    struct thread *td = curthread;

    td->td_pri -= TDPRI_CRIT;
    if (td->td_pri < 0)
        crit_panic();
    if (td->td_pri < mycpu->gd_reqpri)
        lwkt_yield_quick();     /* an interrupt was held off meanwhile */
}

#endif /* SEED_TU */

#endif /* SEED_COST_STUBS_H */
