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

#endif
