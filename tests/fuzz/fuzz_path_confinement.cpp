// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Fuzz target: PathConfinement::resolve(), which every file path from the network passes.
//
// A tree is built once per process: two roots, a sibling whose name extends a root's, a
// directory outside, and symlinks across (relative and absolute, in and out, a loop, a dangling
// one). The input's first byte picks how its rest is read: as is (relative to the first root,
// or absolute), under the tree's base, or under the first root, so that the fuzzer reaches
// absolute paths into the tree without guessing its temporary name.
//
// Invariant, checked with realpath(3) and plain string comparison rather than the
// std::filesystem calls resolve() uses: an accepted path is absolute and, followed as the
// kernel follows it, lies inside a root; where it does not exist yet, its deepest existing
// ancestor does, and what remains holds no "..". Anything else, or any exception, is a bug.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "daemon/path_confinement.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;

fs::path g_base;
std::vector<std::string> g_real_roots;  // realpath(3) of each root
const PathConfinement* g_confinement = nullptr;

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_path_confinement: invariant broken: %s: %s\n", what, detail.c_str());
    std::abort();
}

std::string real(const fs::path& p) {
    char buf[PATH_MAX];
    return ::realpath(p.c_str(), buf) != nullptr ? std::string(buf) : std::string();
}

bool inside_a_root(const std::string& real_path) {
    for (const auto& root : g_real_roots) {
        if (real_path == root) return true;
        if (real_path.size() > root.size() && real_path.compare(0, root.size(), root) == 0 &&
            real_path[root.size()] == '/')
            return true;
    }
    return false;
}

void touch(const fs::path& p) {
    std::ofstream(p) << "not audio";
}

void build_tree() {
    char tmpl[] = "/tmp/looperd-fuzz-paths-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) fail("mkdtemp", tmpl);
    g_base = tmpl;
    std::atexit([] {
        std::error_code ec;
        fs::remove_all(g_base, ec);
    });
    const fs::path root = g_base / "root";
    const fs::path root2 = g_base / "root2";
    const fs::path sibling = g_base / "root-sibling";
    const fs::path outside = g_base / "outside";
    for (const auto& d : {root, root / "sub", root / "sub" / "deeper", root2, sibling, outside})
        fs::create_directories(d);
    touch(root / "a.wav");
    touch(root / "sub" / "b.wav");
    touch(root2 / "c.wav");
    touch(sibling / "s.wav");
    touch(outside / "secret.wav");
    fs::create_directory_symlink("sub", root / "link_in");
    fs::create_directory_symlink("../outside", root / "link_out");
    fs::create_directory_symlink(outside, root / "abs_out");
    fs::create_directory_symlink("../root", root2 / "back");
    fs::create_directory_symlink("../../../root-sibling", root / "sub" / "deeper" / "up");
    fs::create_symlink("../outside/secret.wav", root / "secret_link.wav");
    fs::create_symlink("loop", root / "loop");
    fs::create_symlink("nowhere/at/all", root / "dangling");
    fs::create_symlink(root2 / "c.wav", root / "c_link.wav");
    static const PathConfinement confinement(root, {root2});
    g_confinement = &confinement;
    for (const auto& r : confinement.roots()) g_real_roots.push_back(real(r));
}

void check_accepted(const fs::path& p) {
    if (!p.is_absolute()) fail("relative result", p.string());
    std::error_code ec;
    if (fs::symlink_status(p, ec).type() != fs::file_type::not_found && !ec) {
        const std::string r = real(p);
        // A symlink loop or a dangling link is not followable: nothing is opened there.
        if (!r.empty() && !inside_a_root(r)) fail("escapes the roots", p.string() + " → " + r);
        if (!r.empty()) return;
    }
    // Not there (yet): the deepest existing ancestor must be inside, and the rest plain names.
    fs::path ancestor = p;
    std::vector<fs::path> rest;
    while (ancestor.has_relative_path() && real(ancestor).empty()) {
        rest.push_back(ancestor.filename());
        ancestor = ancestor.parent_path();
    }
    if (!inside_a_root(real(ancestor))) fail("missing path escapes the roots", p.string());
    for (const auto& c : rest)
        if (c == ".." || c == ".") fail("unresolved dot component", p.string());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    build_tree();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string requested;
    switch (data[0] % 3) {
        case 0:
            requested = rest;
            break;
        case 1:
            requested = g_base.string() + "/" + rest;
            break;
        default:
            requested = (g_base / "root").string() + "/" + rest;
            break;
    }
    const auto result = g_confinement->resolve(requested);
    if (const auto* p = std::get_if<fs::path>(&result)) check_accepted(*p);
    return 0;
}
