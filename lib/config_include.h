/*
 * config_include.h - the check of a configuration's @include directives
 * before libconfig reads it.
 *
 * libconfig 1.5 (Debian 12) opens each included file itself, and its flex
 * scanner calls exit() when a read fails ("input in flex scanner failed"):
 * an include that names a directory (`@include ""` names the include
 * directory itself), a FIFO (whose open blocks), a device or an unreadable
 * file would end parleyd at a reload, or block it, instead of being
 * refused. This module finds every directive as libconfig's scanner does
 * (at a line start, outside comments and strings), resolves it as libconfig
 * does (the include directory, "/", the name), and refuses, with FILE:LINE,
 * anything libconfig could not read to the end: a file that is not regular,
 * cannot be read, or is larger than CONFIG_INCLUDE_FILE_MAX; and more than
 * CONFIG_INCLUDE_FILES_MAX inclusions in all (a file that includes itself
 * twice would otherwise make libconfig read 2^10 files). A name that does
 * not exist is left to libconfig, which reports it.
 *
 * Must never: parse settings, write anything, or recurse deeper than
 * libconfig's own include limit (10).
 */
#ifndef PARLEY_CONFIG_INCLUDE_H
#define PARLEY_CONFIG_INCLUDE_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_INCLUDE_FILE_MAX (4 * 1024 * 1024)
#define CONFIG_INCLUDE_FILES_MAX 64
#define CONFIG_INCLUDE_DEPTH_MAX 10	/* libconfig 1.5's MAX_INCLUDE_DEPTH */

struct config_include_error {
	char file[4096];	/* the file with the directive (or the top file) */
	int line;		/* its line, 0 for the file itself */
	char msg[4400];
};

/*
 * config_include_check: F is the opened top-level file PATH (left at its
 * start again on return); INCLUDE_DIR the directory libconfig was given.
 * 0 if every file it includes, directly or not, can be read by libconfig,
 * or -1 with the first problem in ERR.
 */
int config_include_check(FILE *f, const char *path, const char *include_dir,
			 struct config_include_error *err);

#endif
