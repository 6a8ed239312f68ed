// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The audio-thread guard must catch what it exists to catch. Each death test makes one
// deliberate violation inside a guard Scope, in a child process, and expects the abort.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <vector>

#include "looperd/engine.hpp"
#include "looperd/rt_guard.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using namespace looperd;

// Keeps the compiler from eliding an allocation that is never used.
void* volatile g_sink = nullptr;

class Guard : public ::testing::Test {
  protected:
    // "threadsafe" re-executes the test binary for each death test. Under qemu-user (the ARM
    // cross builds) a child cannot execute a foreign binary, so scripts/cross-test.sh sets
    // GTEST_DEATH_TEST_STYLE=fast (a plain fork; no threads run when these tests start), and
    // Google Test's own variable then wins.
    void SetUp() override {
        if (std::getenv("GTEST_DEATH_TEST_STYLE") == nullptr)
            GTEST_FLAG_SET(death_test_style, "threadsafe");
    }
};

TEST_F(Guard, IsOnInThisBuild) {
    EXPECT_TRUE(rt_guard::enabled());
}

TEST_F(Guard, CatchesOperatorNewOnTheAudioThread) {
    EXPECT_DEATH(
        {
            rt_guard::Scope realtime;
            g_sink = new int(42);
        },
        "real-time violation|Real-time violation");
}

TEST_F(Guard, CatchesOperatorDeleteOnTheAudioThread) {
    int* p = new int(7);
    EXPECT_DEATH(
        {
            rt_guard::Scope realtime;
            delete p;
        },
        "real-time violation|Real-time violation");
    delete p;
}

TEST_F(Guard, CatchesVectorGrowthOnTheAudioThread) {
    std::vector<float> v;
    EXPECT_DEATH(
        {
            rt_guard::Scope realtime;
            v.push_back(1.0F);
        },
        "real-time violation|Real-time violation");
}

TEST_F(Guard, AllowsAllocationOutsideTheScope) {
    { rt_guard::Scope realtime; }
    auto* p = new int(1);
    g_sink = p;
    delete p;
    SUCCEED();
}

TEST_F(Guard, CatchesMallocWhenRealtimeSanitizerIsLinked) {
    if (!rt_guard::rtsan_linked())
        GTEST_SKIP() << "RealtimeSanitizer runtime not linked in this build";
    EXPECT_DEATH(
        {
            rt_guard::Scope realtime;
            g_sink = std::malloc(16);
        },
        "Real-time violation");
}

TEST_F(Guard, CatchesMutexLockWhenRealtimeSanitizerIsLinked) {
    if (!rt_guard::rtsan_linked())
        GTEST_SKIP() << "RealtimeSanitizer runtime not linked in this build";
    static std::mutex m;
    EXPECT_DEATH(
        {
            rt_guard::Scope realtime;
            m.lock();
            m.unlock();
        },
        "Real-time violation");
}

TEST_F(Guard, CatchesFileCallsWhenRealtimeSanitizerIsLinked) {
    if (!rt_guard::rtsan_linked())
        GTEST_SKIP() << "RealtimeSanitizer runtime not linked in this build";
    EXPECT_DEATH(
        {
            rt_guard::Scope realtime;
            g_sink = std::fopen("/dev/null", "r");
        },
        "Real-time violation");
}

// The engine itself passes under the guard while it does everything at once: commands of
// every kind, voice starts, fades, buffer retirement.
TEST_F(Guard, EngineProcessIsCleanUnderTheGuard) {
    EngineConfig config;
    config.voices = 8;
    config.slots = 4;
    Engine engine(config);
    std::vector<float> left(512), right(512);
    float* outs[] = {left.data(), right.data()};
    auto* a = new SampleBuffer(2, 300, 48000);
    auto* b = new SampleBuffer(1, 200, 48000);
    for (std::uint32_t i = 0; i < 300; ++i) a->mutable_channel(0)[i] = 0.1F;
    ASSERT_TRUE(engine.try_send({CommandKind::assign_buffer, 0, 0.0F, 0, a}));
    ASSERT_TRUE(engine.try_send({CommandKind::assign_buffer, 1, 0.0F, 0, b}));
    ASSERT_TRUE(engine.try_send({CommandKind::set_mode, 0, 1.0F, 0, nullptr}));
    ASSERT_TRUE(engine.try_send({CommandKind::play, 0, 1.0F, 0, nullptr}));
    ASSERT_TRUE(engine.try_send({CommandKind::play, 1, 1.0F, 0, nullptr}));
    ASSERT_TRUE(engine.try_send({CommandKind::set_gain, 0, 0.5F, 0, nullptr}));
    ASSERT_TRUE(engine.try_send({CommandKind::set_master_gain, 0, 0.7F, 0, nullptr}));
    for (int block = 0; block < 20; ++block) {
        if (block == 5) {
            ASSERT_TRUE(engine.try_send({CommandKind::play, 0, 1.0F, 0, nullptr}));  // retrigger
            ASSERT_TRUE(engine.try_send({CommandKind::unload, 1, 0.0F, 0, nullptr}));
        }
        if (block == 10) {
            ASSERT_TRUE(engine.try_send({CommandKind::stop_all, 0, 0.0F, 0, nullptr}));
        }
        rt_guard::Scope realtime;
        engine.process(outs, 512);
    }
    Event e;
    int retired = 0;
    while (engine.try_receive(e)) {
        if (e.kind == EventKind::buffer_retired) {
            ++retired;
            delete e.buffer;
        }
    }
    EXPECT_EQ(retired, 1);  // b, unloaded; a is still in slot 0 and freed by ~Engine
    EXPECT_EQ(engine.active_voices(), 0U);
}

}  // namespace
