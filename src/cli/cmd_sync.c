/* cmd_sync.c — placeholder replaced below */
#include "cli.h"
int cli_cmd_sync(int argc, char **argv) { return cli_fail("sync: not yet"); }
