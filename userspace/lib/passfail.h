/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PASS/FAIL lines for tests whose checks are a list of named verdicts:
 * "PASS name" or "FAIL name: reason", and a closing "N passed, M failed".
 */
#ifndef _CONTIG_PASSFAIL_H
#define _CONTIG_PASSFAIL_H

#include <stdbool.h>

/* Print and count one verdict; returns @ok */
bool pass_fail(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Print "N passed, M failed"; returns the exit status: 1 if any failed */
int pass_fail_summary(void);

#endif
