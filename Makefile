# changelake — GNU Make build.
#
#   make          build build/changelake and build/libchangelake.a
#   make check    install what is missing, build with ASan+UBSan, run every test
#   make demo     install what is missing, build, run the example job
#   make fuzz     build the libFuzzer targets with clang and run each briefly
#   make bench    benchmark against DuckDB (prints medians and ratios)
#
# Variables: BUILD (output folder), SAN=1 (sanitizers), CC, OPT.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
PKGS    := zlib libzstd snappy liblz4 libbrotlidec libbrotlienc libxxhash sqlite3 libpq libcurl

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Iinclude -Isrc -Wall -Wextra \
	-Wno-unused-parameter -Wno-sign-compare -Wvla -Wformat=2 -g $(PKG_CFLAGS)
ifeq ($(SAN),1)
CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -DCL_DEBUG
LDFLAGS_MODE := -fsanitize=address,undefined
else
CFLAGS_MODE := $(OPT) -DNDEBUG
LDFLAGS_MODE :=
endif
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS_MODE) $(CFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

LAYERS   := core format storage table ops source sink
LIB_SRC  := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all lib check demo fuzz bench clean deps-build deps-test format tests man
# Keep intermediate objects (fuzz builds) so rebuilds are incremental.
.SECONDARY:
all: $(BUILD)/changelake $(BUILD)/libchangelake.a

lib: $(BUILD)/libchangelake.a

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The build id in Parquet's created_by: the commit, refreshed when HEAD moves.
BUILD_ID := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$(BUILD)/build_id: FORCE
	@mkdir -p $(dir $@)
	@echo '$(BUILD_ID)' | cmp -s - $@ || echo '$(BUILD_ID)' > $@
$(BUILD)/src/format/parquet_write_meta.o: $(BUILD)/build_id
$(BUILD)/src/format/parquet_write_meta.o: CFLAGS += -DCL_BUILD_ID='"$(BUILD_ID)"'
FORCE:

$(BUILD)/libchangelake.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/changelake: $(CLI_OBJ) $(BUILD)/libchangelake.a
	$(CC) $(LDFLAGS_MODE) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libchangelake.a $(LIBS)

$(BUILD)/unit_tests: $(UNIT_OBJ) $(BUILD)/libchangelake.a
	$(CC) $(LDFLAGS_MODE) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(BUILD)/libchangelake.a $(LIBS)

# Test-only programs (data generators, dumpers): tests/tools/NAME.c -> BUILD/tools/NAME
$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libchangelake.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_MODE) $(LDFLAGS) -o $@ $< $(BUILD)/libchangelake.a $(LIBS)

tests: $(BUILD)/changelake $(BUILD)/unit_tests $(TOOL_BIN)

deps-build:
	@sh scripts/deps.sh build

deps-test:
	@sh scripts/deps.sh test

# Every test, under AddressSanitizer and UndefinedBehaviorSanitizer.
check: deps-test
	@$(MAKE) --no-print-directory -j2 BUILD=build/san SAN=1 tests
	@bash tests/run.sh build/san

demo: deps-build
	@$(MAKE) --no-print-directory -j2 all
	@sh examples/dms_demo.sh $(BUILD)/changelake

FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
build/fuzz/lib/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CFLAGS_BASE) -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -MMD -MP -c $< -o $@
build/fuzz/%: fuzz/%.c $(LIB_SRC:%.c=build/fuzz/lib/%.o)
	@mkdir -p $(dir $@)
	clang $(CFLAGS_BASE) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ $^ $(LIBS)
fuzz: deps-test $(FUZZ_BIN)
	@bash fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

bench: deps-test
	@$(MAKE) --no-print-directory -j2 all $(BUILD)/bench/clbench
	@bash bench/run.sh $(BUILD)/changelake

# The bench's measuring tool alone (also for profiling: clbench read FILE).
$(BUILD)/bench/clbench: bench/clbench.c $(BUILD)/libchangelake.a
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_MODE) $(LDFLAGS) -o $@ bench/clbench.c $(BUILD)/libchangelake.a $(LIBS)

# The man page, generated from the program's --help texts.
man: $(BUILD)/changelake
	sh scripts/gen-man.sh $(BUILD)/changelake > docs/changelake.1

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(LIB_SRC:%.c=build/fuzz/lib/%.d)
