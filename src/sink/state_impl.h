/*
 * state_impl.h — how a state backend plugs into changelake/state.h
 * (internal to the sink layer).
 *
 * cl_state_open picks the backend by the location: a "postgresql://" or
 * "postgres://" URL or libpq keywords (cl_pg_is_target) open the
 * PostgreSQL backend (state_pg.c), anything else is a path of the SQLite
 * backend (state.c). Each backend's state
 * struct begins with a struct cl_state whose ops point at its functions;
 * the public functions of state.c only dispatch through them, so both
 * backends keep the same API, semantics and schema version
 * (CL_STATE_VERSION). Error messages name the database as the user gave
 * it, with any password masked.
 */
#ifndef CL_SINK_STATE_IMPL_H
#define CL_SINK_STATE_IMPL_H

#include "changelake/state.h"

typedef struct cl__state_ops {
	void (*close)(cl_state *s);
	int (*version)(cl_state *s);
	int (*table_register)(cl_state *s, const char *name, bool *created, cl_error *err);
	int (*table_get)(cl_state *s, const char *name, cl_state_table *out, cl_error *err);
	int (*table_list)(cl_state *s, cl_state_table **out, int *n, cl_error *err);
	int (*table_update)(cl_state *s, const char *name, const cl_state_table_set *set,
			    cl_error *err);
	int (*run_add)(cl_state *s, const cl_state_run *r, cl_error *err);
	int (*runs)(cl_state *s, const char *table, int limit, cl_state_run **out, int *n,
		    cl_error *err);
} cl__state_ops;

struct cl_state {
	const cl__state_ops *ops;
};

/* Whether `path` names a PostgreSQL database (a postgresql:// or
 * postgres:// URL, or libpq keywords: cl_pg_is_target). */
bool cl__state_is_pg_url(const char *path);
/* Open the PostgreSQL state at `url` (see cl_state_open). */
int cl__state_pg_open(cl_state **out, const char *url, cl_error *err);
/* An owned copy of `url` with the password (user:PASSWORD@ and any
 * password=VALUE or sslpassword=VALUE parameter or keyword) replaced by
 * "***"; NULL when out of memory. */
char *cl__state_mask_url(const char *url);

#endif
