/*
 * parse_bench.c - CPU time and peak memory of parley's message parsing on
 * hostile shapes, each at growing sizes, with the ratio to the smallest size
 * of the same shape measured in the same run: linear work shows time ratios
 * close to the size ratios. Built and run by bench/parse.sh; not a test.
 *
 * Shapes: N-deep nested multiparts (the structure check alone, and the whole
 * message_parse, which refuses them), N To: header lines, one To: field of N
 * continuation lines (one address each), and one Subject of N continuation
 * lines. Each case runs in a child process so that its peak RSS is its own.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailfmt.h"
#include "message.h"
#include "message_check.h"
#include "mime_nested.h"

enum shape { DEEP_CHECK, DEEP_PARSE, WIDE_CHECK, WIDE_PARSE, TO_LINES, TO_FOLDED, SUBJECT_FOLDED };

static void build(struct mbuf *b, enum shape s, int n)
{
	char line[128];
	int i;

	if (s == DEEP_CHECK || s == DEEP_PARSE) {
		mime_nested(b, "From: a@example.net\r\nMessage-ID: <bench@example.net>\r\n"
			       "MIME-Version: 1.0\r\n", n);
		return;
	}
	mbuf_str(b, "From: a@example.net\r\nMessage-ID: <bench@example.net>\r\n");
	switch (s) {
	case DEEP_CHECK:
	case DEEP_PARSE:
		return;
	case WIDE_CHECK:
	case WIDE_PARSE: /* N levels in all: siblings 99 deep, which the check must walk to the end */
		mbuf_str(b, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=top\r\n\r\n");
		for (i = 0; i < n; i++) {
			if (i % 99 == 0)
				mbuf_str(b, "\r\ntext\r\n--top\r\n");
			snprintf(line, sizeof(line),
				 "Content-Type: multipart/mixed; boundary=\"b%d-x\"\r\n\r\n--b%d-x\r\n",
				 i % 99, i % 99);
			mbuf_str(b, line);
		}
		mbuf_str(b, "\r\ntext\r\n--top--\r\n");
		return;
	case TO_LINES:
		for (i = 0; i < n; i++) {
			snprintf(line, sizeof(line), "To: user%d@example.org\r\n", i);
			mbuf_str(b, line);
		}
		break;
	case TO_FOLDED:
		mbuf_str(b, "To: first@example.org");
		for (i = 0; i < n; i++) {
			snprintf(line, sizeof(line), ",\r\n user%d@example.org", i);
			mbuf_str(b, line);
		}
		mbuf_str(b, "\r\n");
		break;
	case SUBJECT_FOLDED:
		mbuf_str(b, "Subject: start");
		for (i = 0; i < n; i++)
			mbuf_str(b, "\r\n =?utf-8?q?caf=C3=A9?= word");
		mbuf_str(b, "\r\n");
		break;
	}
	mbuf_str(b, "\r\nbody\r\n");
}

/* run_case: in a child, build and parse; prints nothing, reports through
 * the pipe: CPU seconds of the parse, the peak RSS in KiB, the size. */
static int run_case(enum shape s, int n, int max_headers, double *cpu, long *rss_kb,
		    size_t *size, int *rc)
{
	int fd[2];
	pid_t pid;
	double out[4];

	if (pipe(fd) < 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		struct mbuf b = {0};
		struct rusage ru;
		struct timespec a, z;
		struct message m;
		char err[256];
		int r;
		close(fd[0]);
		build(&b, s, n);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
		if (s == DEEP_CHECK || s == WIDE_CHECK) {
			r = message_check_structure(b.p, b.n, MESSAGE_MIME_DEPTH_MAX, err, sizeof(err));
		} else {
			r = message_parse(b.p, b.n, max_headers, &m, err, sizeof(err));
			if (r == 0)
				message_free(&m);
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &z);
		getrusage(RUSAGE_SELF, &ru);
		out[0] = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
		out[1] = (double)ru.ru_maxrss;
		out[2] = (double)b.n;
		out[3] = r;
		if (write(fd[1], out, sizeof(out)) != (ssize_t)sizeof(out))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], out, sizeof(out)) != (ssize_t)sizeof(out)) {
		close(fd[0]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(fd[0]);
	waitpid(pid, NULL, 0);
	*cpu = out[0];
	*rss_kb = (long)out[1];
	*size = (size_t)out[2];
	*rc = (int)out[3];
	return 0;
}

static void series(const char *name, enum shape s, const int *sizes, int max_headers)
{
	double cpu0 = 0, cpu;
	size_t size0 = 0, size;
	long rss;
	int i, rc;

	printf("%s (max_headers %d)\n", name, max_headers);
	printf("  %9s %10s %10s %10s %11s %8s %s\n", "N", "bytes", "cpu s", "peak KiB", "cpu ratio",
	       "size x", "result");
	for (i = 0; sizes[i] > 0; i++) {
		if (run_case(s, sizes[i], max_headers, &cpu, &rss, &size, &rc) < 0) {
			printf("  %9d  (the case failed)\n", sizes[i]);
			continue;
		}
		if (i == 0) {
			cpu0 = cpu > 1e-6 ? cpu : 1e-6;
			size0 = size;
		}
		printf("  %9d %10zu %10.4f %10ld %11.2f %8.2f %s\n", sizes[i], size, cpu, rss,
		       cpu / cpu0, (double)size / (double)size0,
		       rc == 0 ? "passed" : rc == MESSAGE_REFUSED || s == DEEP_CHECK ? "refused" : "failed (retried)");
	}
}

int main(void)
{
	static const int deep[] = {5000, 10000, 20000, 30000, 0};
	static const int lines[] = {62500, 125000, 250000, 500000, 0};
	static const int folds[] = {12500, 25000, 50000, 100000, 0};

	series("nested multiparts, message_check_structure", DEEP_CHECK, deep, 1000);
	series("nested multiparts, message_parse", DEEP_PARSE, deep, 1000);
	series("N levels as siblings 99 deep, message_check_structure", WIDE_CHECK, deep, 1000);
	series("N levels as siblings 99 deep, message_parse", WIDE_PARSE, deep, 1000);
	series("To: lines, message_parse as ingest calls it", TO_LINES, lines, 1001);
	series("To: lines, message_parse with no header limit", TO_LINES, lines, 1000000);
	series("one To: field of N continuation lines", TO_FOLDED, folds, 1001);
	series("one Subject of N continuation lines", SUBJECT_FOLDED, folds, 1001);
	return 0;
}
