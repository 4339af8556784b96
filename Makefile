# The two commands of the README:
#   make demo   build, then quantize the bundled stories260K model and report
#   make check  build, then run every test (lit + gtest)
# Both install missing Debian packages first (scripts/install-deps.sh).

PRESET ?= release
BUILD_DIR ?= build

.PHONY: all deps configure build demo check format clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@test -f $(BUILD_DIR)/build.ninja || cmake --preset $(PRESET) >/dev/null

build: configure
	cmake --build --preset $(PRESET)

demo: build
	$(BUILD_DIR)/bin/quant-demo examples/stories260K

check: build
	scripts/check.sh $(BUILD_DIR)

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format-22 -i

clean:
	rm -rf $(BUILD_DIR)
