// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// The engine fuzz targets' view of their input: little-endian numbers read one after another,
// zeros once the input is used up, so that every input, however short, is a whole run.

#include <cstddef>
#include <cstdint>

namespace looperd::fuzz {

class Reader {
  public:
    Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool done() const { return pos_ >= size_; }
    std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::uint16_t u16() {
        const auto lo = u8();
        return static_cast<std::uint16_t>(lo | (u8() << 8U));
    }
    std::uint32_t u32() {
        const std::uint32_t lo = u16();
        return lo | (std::uint32_t{u16()} << 16U);
    }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

}  // namespace looperd::fuzz
