/*
 * procmem.c: the process's memory figures. The resident set comes from
 * /proc/self/statm (Linux), its peak from getrusage(), and what malloc holds
 * from glibc's mallinfo2() where there is one (under a sanitizer, whose own
 * allocator replaces malloc, those stay near zero).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#ifdef HAVE_MALLINFO2
#include <malloc.h>
#endif

#include "procmem.h"

/* Reads the memory figures. */
int
procmem_read(struct procmem *pm)
{
	struct rusage		 ru;
	unsigned long long	 size, resident;
	long			 page = sysconf(_SC_PAGESIZE);
	FILE			*f;
	int			 rc = -1;
#ifdef HAVE_MALLINFO2
	struct mallinfo2	 mi;
#endif

	memset(pm, 0, sizeof(*pm));
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0) {
			pm->rss = resident * (unsigned long long)page;
			rc = 0;
		}
		fclose(f);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		pm->rss_peak = (uint64_t)ru.ru_maxrss * 1024;	/* KiB */
	if (pm->rss_peak < pm->rss)
		pm->rss_peak = pm->rss;
#ifdef HAVE_MALLINFO2
	mi = mallinfo2();
	pm->has_malloc = 1;
	pm->malloc_used = mi.uordblks + mi.hblkhd;
	pm->malloc_arena = mi.arena;
	pm->malloc_mmapped = mi.hblkhd;
	pm->malloc_free = mi.fordblks;
#endif
	return rc;
}

/* Returns malloc's free pages to the system when there are many. */
uint64_t
procmem_trim(void)
{
#ifdef HAVE_MALLINFO2
	struct mallinfo2	 mi = mallinfo2();

	if (mi.fordblks < PROCMEM_TRIM_MIN)
		return 0;
	malloc_trim(0);
	return mi.fordblks;
#else
	return 0;
#endif
}

/* Formats bytes with a unit, two decimals above a KiB. */
const char *
procmem_human(uint64_t bytes, char *buf, size_t len)
{
	static const char	 units[] = "KMGTP";
	double			 v = (double)bytes;
	int			 i = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
		return buf;
	}
	while (v >= 1024 && i < (int)sizeof(units) - 2) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, "%.2f%c", v, units[i]);
	return buf;
}
