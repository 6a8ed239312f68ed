// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include <benchmark/benchmark.h>
BENCHMARK_MAIN();
