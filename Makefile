# flowscope build: vmlinux.h from the running kernel's BTF, BPF objects (clang, CO-RE),
# the Node-API addon (against the system libbpf) and the TypeScript.
# `make` builds everything incrementally; `make gen` regenerates the TypeScript decoders
# from the compiled objects' BTF.

OUTPUT      := bpf/.output
CLANG       ?= clang
LLVM_STRIP  ?= llvm-strip
BPFTOOL     ?= bpftool
CXX         ?= g++
ARCH        := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/; s/ppc64le/powerpc/; s/s390x/s390/')
NODE_INC    ?= $(firstword $(wildcard /usr/include/node) $(dir $(shell command -v node))../include/node)
NAPI_INC    := node_modules/node-addon-api

BPF_SRCS      := $(wildcard bpf/*.bpf.c)
TEST_BPF_SRCS := $(wildcard test/bpf/*.bpf.c)
BENCH_BPF_SRCS:= $(wildcard bench/bpf/*.bpf.c)
EXAMPLE_BPF_SRCS := $(wildcard examples/programs/*.bpf.c)
BPF_OBJS      := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
TEST_BPF_OBJS := $(patsubst test/bpf/%.bpf.c,$(OUTPUT)/test/%.bpf.o,$(TEST_BPF_SRCS))
BENCH_BPF_OBJS:= $(patsubst bench/bpf/%.bpf.c,$(OUTPUT)/bench/%.bpf.o,$(BENCH_BPF_SRCS))
EXAMPLE_BPF_OBJS := $(patsubst examples/programs/%.bpf.c,$(OUTPUT)/examples/%.bpf.o,$(EXAMPLE_BPF_SRCS))
BPF_HDRS      := $(wildcard bpf/include/*.h) $(OUTPUT)/vmlinux.h

NATIVE_SRCS := $(wildcard native/*.cc)
NATIVE_HDRS := $(wildcard native/*.h)
ADDON       := build/flowscope.node

TS_SRCS := $(shell find src test scripts bench \( -name '*.ts' -o -name '*.json' \) -not -path 'src/web/app/*' 2>/dev/null)
# The UI (src/web: React, its own tsconfig with DOM and JSX), built by Vite into dist/web, which the
# hub serves at /. src/web/logic is plain TypeScript that the main build also compiles and tests.
WEB_SRCS := $(shell find src/web src/model -type f 2>/dev/null)
WEB_STAMP := dist/web/index.html
TS_STAMP := dist/.built
# Files the compiled code reads beside itself (the CRI proto): copied into dist/ as they are.
TS_ASSETS := $(patsubst %,dist/%,$(shell find src -name '*.proto' 2>/dev/null))

BPF_CFLAGS := -g -O2 -Wall -Werror -Wno-unused-function -target bpf -D__TARGET_ARCH_$(ARCH) \
              -I$(OUTPUT) -Ibpf/include -mcpu=v3
CXXFLAGS   := -std=c++17 -O2 -g -fPIC -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
              -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED \
              -I$(NODE_INC) -I$(NAPI_INC) -fvisibility=hidden

.PHONY: all bpf addon ts web gen clean
all: bpf addon ts web

bpf: $(BPF_OBJS) $(TEST_BPF_OBJS) $(BENCH_BPF_OBJS) $(EXAMPLE_BPF_OBJS)
addon: $(ADDON)
ts: $(TS_STAMP) $(TS_ASSETS)
web: $(WEB_STAMP)

$(OUTPUT) $(OUTPUT)/test $(OUTPUT)/bench $(OUTPUT)/examples build:
	@mkdir -p $@

# vmlinux.h describes the running kernel; CO-RE relocations make the objects portable anyway.
$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	@test -r /sys/kernel/btf/vmlinux || { echo "error: /sys/kernel/btf/vmlinux is missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y is required)" >&2; exit 1; }
	@echo "  GEN     $@"
	@$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OUTPUT)
	@echo "  BPF     $@"
	@$(CLANG) $(BPF_CFLAGS) -c $< -o $@ && $(LLVM_STRIP) -g $@

$(OUTPUT)/test/%.bpf.o: test/bpf/%.bpf.c $(BPF_HDRS) $(wildcard test/bpf/include/*.h) | $(OUTPUT)/test
	@echo "  BPF     $@"
	@$(CLANG) $(BPF_CFLAGS) -Itest/bpf/include -c $< -o $@ && $(LLVM_STRIP) -g $@

$(OUTPUT)/bench/%.bpf.o: bench/bpf/%.bpf.c $(BPF_HDRS) | $(OUTPUT)/bench
	@echo "  BPF     $@"
	@$(CLANG) $(BPF_CFLAGS) -c $< -o $@ && $(LLVM_STRIP) -g $@

# Example programs for `flowscope exporter` (examples/programs/*.bpf.c + *.yaml). Not stripped: users
# read them with bpftool.
$(OUTPUT)/examples/%.bpf.o: examples/programs/%.bpf.c $(BPF_HDRS) | $(OUTPUT)/examples
	@echo "  BPF     $@"
	@$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(ADDON): $(NATIVE_SRCS) $(NATIVE_HDRS) | build
	@test -f $(NODE_INC)/node_api.h || { echo "error: Node.js headers not found (looked in $(NODE_INC)); set NODE_INC" >&2; exit 1; }
	@echo "  CXX     $@"
	@$(CXX) $(CXXFLAGS) -shared -o $@ $(NATIVE_SRCS) -lbpf -lelf -lz -lpthread

$(TS_STAMP): $(TS_SRCS) tsconfig.json package.json
	@echo "  TSC     dist/"
	@node_modules/.bin/tsc -p tsconfig.json
	@touch $@

$(WEB_STAMP): $(WEB_SRCS) package.json
	@echo "  VITE    dist/web/"
	@node_modules/.bin/tsc -p src/web/tsconfig.json
	@node_modules/.bin/vite build --config src/web/vite.config.ts --logLevel warn

dist/%.proto: %.proto
	@mkdir -p $(@D) && cp $< $@

gen: bpf ts
	@node dist/scripts/gen-decoders.js
	@node_modules/.bin/tsc -p tsconfig.json && touch $(TS_STAMP)

clean:
	rm -rf $(OUTPUT) build dist
