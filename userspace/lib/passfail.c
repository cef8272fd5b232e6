// SPDX-License-Identifier: GPL-2.0
/* Named PASS/FAIL verdicts and their count: see passfail.h. */
#include <stdarg.h>
#include <stdio.h>

#include "passfail.h"

static int checks_passed, checks_failed;

bool pass_fail(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS %s\n", name);
		checks_passed++;
		return ok;
	}
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	checks_failed++;
	return ok;
}

int pass_fail_summary(void)
{
	printf("%d passed, %d failed\n", checks_passed, checks_failed);
	return checks_failed ? 1 : 0;
}
