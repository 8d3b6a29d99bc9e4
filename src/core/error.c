/* error.c — cl_error: a code plus a message that names where things went wrong. */
#include "changelake/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cl_error_set(cl_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return code;
}

int cl_error_prefix(cl_error *err, const char *fmt, ...)
{
	if (!err)
		return CL_EINTERNAL;
	if (err->code == 0)
		err->code = CL_EINTERNAL;
	char prefix[CL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	/* Keep as much of both as fits: the prefix names where, the old message what. */
	char old[CL_ERROR_MSG_MAX];
	memcpy(old, err->message, sizeof old);
	old[sizeof old - 1] = 0;
	size_t p = strlen(prefix);
	if (p > sizeof err->message - 1)
		p = sizeof err->message - 1;
	memcpy(err->message, prefix, p);
	size_t o = strlen(old);
	if (o > sizeof err->message - 1 - p)
		o = sizeof err->message - 1 - p;
	memcpy(err->message + p, old, o);
	err->message[p + o] = 0;
	return err->code;
}

void cl_error_clear(cl_error *err)
{
	if (err) {
		err->code = 0;
		err->message[0] = 0;
	}
}

const char *cl_error_name(int code)
{
	switch (code) {
	case CL_OK: return "ok";
	case CL_EINVAL: return "invalid argument";
	case CL_ENOMEM: return "out of memory";
	case CL_EIO: return "I/O error";
	case CL_EFORMAT: return "format error";
	case CL_ETYPE: return "type error";
	case CL_EUNSUPPORTED: return "not supported";
	case CL_ENOTFOUND: return "not found";
	case CL_ECONFLICT: return "conflict";
	case CL_EDUPKEY: return "duplicate key";
	case CL_ESCHEMA: return "schema error";
	case CL_EINTERNAL: return "internal error";
	}
	return "unknown error";
}
