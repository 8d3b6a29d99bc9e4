#include "changelake.h"
#include <stdio.h>
int main(void) { puts("changelake " CL_VERSION_STRING); return 0; }
