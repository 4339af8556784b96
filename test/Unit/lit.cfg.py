# -*- Python -*-
# lit configuration of the quant-opt unit tests: every GoogleTest binary in
# the build's unittests/ directory (names ending in "Tests").

import os

import lit.formats

config.name = "QUANT-Unit"
config.suffixes = []
config.test_source_root = os.path.join(config.quant_obj_root, "unittests")
config.test_exec_root = config.test_source_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
