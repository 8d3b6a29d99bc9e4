/*
 * changelake.h — the public API of libchangelake.
 *
 * One header per noun under changelake/; this one includes them all.
 */
#ifndef CHANGELAKE_H
#define CHANGELAKE_H

#include "changelake/common.h"
#include "changelake/schema.h"
#include "changelake/batch.h"
#include "changelake/hash.h"
#include "changelake/io.h"
#include "changelake/dataset.h"
#include "changelake/parquet.h"
#include "changelake/parquet_writer.h"
#include "changelake/storage.h"
#include "changelake/table.h"
#include "changelake/diff.h"
#include "changelake/apply.h"
#include "changelake/merge.h"
#include "changelake/dms.h"
#include "changelake/dms_merge.h"
#include "changelake/pg.h"
#include "changelake/pg_export.h"
#include "changelake/state.h"

#endif
