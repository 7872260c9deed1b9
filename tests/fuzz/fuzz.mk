# tests/fuzz/fuzz.mk - the libFuzzer build of the fuzz targets (GNU make).
# Run by `make fuzz` (tests/fuzz/fuzz.am), which passes:
#   SRC  the source tree      BLD  the build tree (lib/autoconf.h)
#   OUT  where objects and the fuzz_NAME programs go
#   CC   clang with libFuzzer   CPPFLAGS, LIBS  as configure found them
#   TARGETS  the target names (tests/fuzz/fuzz_NAME.c)
# Everything of lib/ and daemon/ (but parleyd.c's main) is compiled again
# here with coverage, AddressSanitizer and UBSan; the normal build is untouched.

SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -Wall $(SAN)
OBJ_CFLAGS  := $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link
ALL_CPPFLAGS := -I$(SRC)/lib -I$(BLD)/lib -DPARLEY_SYSCONFDIR='"/etc"' $(CPPFLAGS)

LIB_SRCS    := $(wildcard $(SRC)/lib/*.c)
DAEMON_SRCS := $(filter-out %/parleyd.c,$(wildcard $(SRC)/daemon/*.c))
LIB_OBJS    := $(patsubst $(SRC)/lib/%.c,$(OUT)/obj/lib/%.o,$(LIB_SRCS))
DAEMON_OBJS := $(patsubst $(SRC)/daemon/%.c,$(OUT)/obj/daemon/%.o,$(DAEMON_SRCS))
PROGS       := $(addprefix $(OUT)/fuzz_,$(TARGETS))

all: $(PROGS)

$(OUT)/obj/lib/%.o: $(SRC)/lib/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC   lib/$*.c"
	@$(CC) $(ALL_CPPFLAGS) $(OBJ_CFLAGS) -MMD -MP -c -o $@ $<

$(OUT)/obj/daemon/%.o: $(SRC)/daemon/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC   daemon/$*.c"
	@$(CC) $(ALL_CPPFLAGS) $(OBJ_CFLAGS) -MMD -MP -c -o $@ $<

$(OUT)/obj/fuzz/%.o: $(SRC)/tests/fuzz/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC   tests/fuzz/$*.c"
	@$(CC) $(ALL_CPPFLAGS) $(OBJ_CFLAGS) -MMD -MP -c -o $@ $<

$(OUT)/libparley-fuzz.a: $(LIB_OBJS) $(DAEMON_OBJS) $(OUT)/obj/fuzz/support.o
	@rm -f $@
	@ar rcs $@ $^

$(OUT)/fuzz_%: $(OUT)/obj/fuzz/fuzz_%.o $(OUT)/libparley-fuzz.a
	@echo "  FUZZLD   $(@F)"
	@$(CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -pthread -o $@ $< $(OUT)/libparley-fuzz.a $(LIBS) -lm

.PHONY: all
.SECONDARY:
-include $(wildcard $(OUT)/obj/*/*.d)
