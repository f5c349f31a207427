/*
 * procmem.h: the process's memory, as the kernel and the C library see it
 * (for INFO memory and the metrics endpoint). Reading it costs a few
 * system calls and a walk over malloc's arenas: not for the hot path.
 */
#ifndef PUBSUBD_PROCMEM_H
#define PUBSUBD_PROCMEM_H

#include <stddef.h>
#include <stdint.h>

struct procmem {
	uint64_t	rss;		/* resident now (/proc/self/statm) */
	uint64_t	rss_peak;	/* the most ever resident (getrusage) */
	int		has_malloc;	/* glibc's figures below are known */
	uint64_t	malloc_used;	/* allocated and not freed */
	uint64_t	malloc_arena;	/* taken from the system by brk */
	uint64_t	malloc_mmapped;	/* taken with mmap (large blocks) */
	uint64_t	malloc_free;	/* free inside the arenas */
};

/* Fills *pm (zeroes what cannot be known); returns 0, or -1 if rss is not. */
int		 procmem_read(struct procmem *pm);

/*
 * Gives the system back the free pages inside malloc's heap when there are
 * many (more than PROCMEM_TRIM_MIN bytes free in it): a
 * burst of clients leaves their per-request memory free but resident, in
 * holes glibc returns only when asked. Returns the bytes that were free,
 * 0 if nothing was done. A no-op without glibc's malloc statistics.
 */
#define PROCMEM_TRIM_MIN	(1u << 20)
uint64_t	 procmem_trim(void);

/* Writes bytes as Redis' "_human" fields do ("512B", "1.50K", "2.00M"). */
const char	*procmem_human(uint64_t bytes, char *buf, size_t len);

#endif /* PUBSUBD_PROCMEM_H */
