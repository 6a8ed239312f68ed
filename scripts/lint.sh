#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Checks formatting (clang-format) and runs clang-tidy over looperd's sources.
# Needs Debian's clang-format and clang-tidy. Uses build-test's compile_commands.json.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.hpp')
clang-format --dry-run --Werror $files
[ -d build-test ] || meson setup build-test
clang-tidy -p build-test --quiet $(git ls-files 'src/*.cpp') 2>/dev/null
