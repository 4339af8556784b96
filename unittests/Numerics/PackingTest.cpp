//===- PackingTest.cpp - packCodes / unpackCodes
//---------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Layouts (QTensorAttrs.td): lsb_first is a little-endian bit stream, code k
// in bits [k*bits, (k+1)*bits) from bit 0 of byte 0; msb_first (2/4-bit) puts
// element 2j in the high nibble of byte j (4-bit) / element 4j in bits 7..6
// (2-bit). Unused bits of the last byte are zero.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "quant/Numerics/Numerics.h"

#include <gtest/gtest.h>

#include <vector>

using namespace quantopt::numerics;

namespace {

std::vector<uint8_t> pack(const std::vector<uint8_t> &codes, unsigned bits,
                          PackOrder order) {
  int64_t n = static_cast<int64_t>(codes.size());
  // One guard byte to catch writes past packedSize.
  std::vector<uint8_t> out(packedSize(n, bits, order) + 1, 0xA5);
  packCodes(codes.data(), n, bits, order, out.data());
  EXPECT_EQ(out.back(), 0xA5) << "write past packedSize";
  out.pop_back();
  return out;
}

std::vector<uint8_t> unpack(const std::vector<uint8_t> &packed, int64_t n,
                            unsigned bits, PackOrder order) {
  std::vector<uint8_t> codes(n, 0xEE);
  unpackCodes(packed.data(), n, bits, order, codes.data());
  return codes;
}

using Bytes = std::vector<uint8_t>;

TEST(Packing, PackedSize) {
  EXPECT_EQ(packedSize(10, 4, PackOrder::none), 10);
  EXPECT_EQ(packedSize(10, 3, PackOrder::none), 10);
  EXPECT_EQ(packedSize(0, 4, PackOrder::lsb_first), 0);
  EXPECT_EQ(packedSize(1, 4, PackOrder::lsb_first), 1);
  EXPECT_EQ(packedSize(3, 4, PackOrder::lsb_first), 2);
  EXPECT_EQ(packedSize(3, 4, PackOrder::msb_first), 2);
  EXPECT_EQ(packedSize(5, 2, PackOrder::msb_first), 2);
  EXPECT_EQ(packedSize(8, 3, PackOrder::lsb_first), 3);
  EXPECT_EQ(packedSize(3, 3, PackOrder::lsb_first), 2);     // 9 bits
  EXPECT_EQ(packedSize(172, 3, PackOrder::lsb_first), 65);  // 516 bits
  EXPECT_EQ(packedSize(172, 5, PackOrder::lsb_first), 108); // 860 bits
  EXPECT_EQ(packedSize(7, 7, PackOrder::lsb_first), 7);
  EXPECT_EQ(packedSize(5, 8, PackOrder::lsb_first), 5);
}

TEST(Packing, Lsb2Bit) {
  // 1 | 2<<2 | 3<<4 | 0<<6 = 0x39; the 5th code 3 alone in byte 1.
  Bytes codes = {1, 2, 3, 0, 3};
  EXPECT_EQ(pack(codes, 2, PackOrder::lsb_first), (Bytes{0x39, 0x03}));
  EXPECT_EQ(unpack({0x39, 0x03}, 5, 2, PackOrder::lsb_first), codes);
}

TEST(Packing, Lsb3BitStraddling) {
  // Codes 1..7,0 as a 24-bit little-endian integer: sum c_k << 3k =
  // octal 07654321 = 0x1F58D1 -> bytes D1 58 1F. Code 2 (=3) occupies bits
  // 6..8: straddles bytes 0 and 1; code 5 (=6) bits 15..17: bytes 1 and 2.
  Bytes codes = {1, 2, 3, 4, 5, 6, 7, 0};
  EXPECT_EQ(pack(codes, 3, PackOrder::lsb_first), (Bytes{0xD1, 0x58, 0x1F}));
  EXPECT_EQ(unpack({0xD1, 0x58, 0x1F}, 8, 3, PackOrder::lsb_first), codes);
  // Three 7s: 9 one-bits -> FF 01; the high 7 bits of byte 1 are padding.
  EXPECT_EQ(pack({7, 7, 7}, 3, PackOrder::lsb_first), (Bytes{0xFF, 0x01}));
  // A single code in bits 6..8: 0b101 << 6 = 0x140 -> 40 01.
  EXPECT_EQ(pack({0, 0, 5}, 3, PackOrder::lsb_first), (Bytes{0x40, 0x01}));
}

TEST(Packing, Lsb4Bit) {
  // Element 2j in the low nibble (GPTQ / ggml order).
  EXPECT_EQ(pack({1, 2, 3}, 4, PackOrder::lsb_first), (Bytes{0x21, 0x03}));
  EXPECT_EQ(pack({0xF, 0x0, 0xA, 0x5}, 4, PackOrder::lsb_first),
            (Bytes{0x0F, 0x5A}));
  EXPECT_EQ(unpack({0x21, 0x03}, 3, 4, PackOrder::lsb_first), (Bytes{1, 2, 3}));
}

TEST(Packing, Lsb5Bit) {
  // 31 | 0<<5 | 21<<10 | 10<<15 = 0x5541F (20 bits) -> 1F 54 05.
  Bytes codes = {0x1F, 0x00, 0x15, 0x0A};
  EXPECT_EQ(pack(codes, 5, PackOrder::lsb_first), (Bytes{0x1F, 0x54, 0x05}));
  EXPECT_EQ(unpack({0x1F, 0x54, 0x05}, 4, 5, PackOrder::lsb_first), codes);
  // 8 codes of 5 bits = 40 bits: 1 << 5k for k = 1 only -> bit 5 -> 20 00..
  EXPECT_EQ(pack({0, 1, 0, 0, 0, 0, 0, 0}, 5, PackOrder::lsb_first),
            (Bytes{0x20, 0x00, 0x00, 0x00, 0x00}));
  // Last code 0x1F in bits 35..39 -> byte 4 = 0xF8.
  EXPECT_EQ(pack({0, 0, 0, 0, 0, 0, 0, 0x1F}, 5, PackOrder::lsb_first),
            (Bytes{0x00, 0x00, 0x00, 0x00, 0xF8}));
}

TEST(Packing, Lsb6Bit) {
  // 0x3F | 0x01<<6 | 0x2A<<12 = 0x2A07F (18 bits) -> 7F A0 02.
  Bytes codes = {0x3F, 0x01, 0x2A};
  EXPECT_EQ(pack(codes, 6, PackOrder::lsb_first), (Bytes{0x7F, 0xA0, 0x02}));
  EXPECT_EQ(unpack({0x7F, 0xA0, 0x02}, 3, 6, PackOrder::lsb_first), codes);
  // 4 codes = 24 bits exactly:
  // 0x15 | 0x2A<<6 | 0x15<<12 | 0x2A<<18 = 0xA95A95 -> 95 5A A9.
  EXPECT_EQ(pack({0x15, 0x2A, 0x15, 0x2A}, 6, PackOrder::lsb_first),
            (Bytes{0x95, 0x5A, 0xA9}));
}

TEST(Packing, Lsb7Bit) {
  // 0x7F | 0<<7 | 0x55<<14 | 0x2A<<21 | 0x01<<28 (35 bits)
  // = 0x7F + 0x154000 + 0x5400000 + 0x10000000 = 0x1555407F -> 7F 40 55 15 00.
  Bytes codes = {0x7F, 0x00, 0x55, 0x2A, 0x01};
  EXPECT_EQ(pack(codes, 7, PackOrder::lsb_first),
            (Bytes{0x7F, 0x40, 0x55, 0x15, 0x00}));
  EXPECT_EQ(unpack({0x7F, 0x40, 0x55, 0x15, 0x00}, 5, 7, PackOrder::lsb_first),
            codes);
  // Code 1 = 0x7F in bits 7..13 -> byte 0 bit 7, byte 1 bits 0..5.
  EXPECT_EQ(pack({0, 0x7F}, 7, PackOrder::lsb_first), (Bytes{0x80, 0x3F}));
}

TEST(Packing, Msb4Bit) {
  // bitsandbytes: element 2j is the high nibble.
  EXPECT_EQ(pack({1, 2, 3}, 4, PackOrder::msb_first), (Bytes{0x12, 0x30}));
  EXPECT_EQ(pack({0xF, 0x0, 0xA, 0x5}, 4, PackOrder::msb_first),
            (Bytes{0xF0, 0xA5}));
  EXPECT_EQ(unpack({0x12, 0x30}, 3, 4, PackOrder::msb_first), (Bytes{1, 2, 3}));
}

TEST(Packing, Msb2Bit) {
  // 1<<6 | 2<<4 | 3<<2 | 0 = 0x6C; code 4 (=3) in bits 7..6 of byte 1.
  Bytes codes = {1, 2, 3, 0, 3};
  EXPECT_EQ(pack(codes, 2, PackOrder::msb_first), (Bytes{0x6C, 0xC0}));
  EXPECT_EQ(unpack({0x6C, 0xC0}, 5, 2, PackOrder::msb_first), codes);
  EXPECT_EQ(pack({0, 0, 0, 1, 2, 0}, 2, PackOrder::msb_first),
            (Bytes{0x01, 0x80}));
}

TEST(Packing, NoneIsIdentity) {
  Bytes codes = {0x00, 0xFF, 0x80, 0x7F, 0x12};
  EXPECT_EQ(pack(codes, 8, PackOrder::none), codes);
  EXPECT_EQ(pack(codes, 4, PackOrder::none), codes);
  EXPECT_EQ(unpack(codes, 5, 8, PackOrder::none), codes);
}

TEST(Packing, HighCodeBitsIgnored) {
  // Only the low `bits` bits of each code are packed (signed codes arrive as
  // 8-bit two's complement, e.g. -3 = 0xFD -> 4-bit 0xD).
  EXPECT_EQ(pack({0xFD, 0xF8}, 4, PackOrder::lsb_first), (Bytes{0x8D}));
  EXPECT_EQ(pack({0xFD, 0xF8}, 4, PackOrder::msb_first), (Bytes{0xD8}));
  EXPECT_EQ(pack({0xFF, 0x08}, 3, PackOrder::lsb_first), (Bytes{0x07}));
  EXPECT_EQ(pack({0xFF, 0xFF, 0xFF}, 2, PackOrder::msb_first), (Bytes{0xFC}));
}

TEST(Packing, UnpackIgnoresPaddingBits) {
  // Garbage in the padding bits of the last byte must not leak into codes.
  EXPECT_EQ(unpack({0xFF, 0xFF}, 3, 3, PackOrder::lsb_first), (Bytes{7, 7, 7}));
  EXPECT_EQ(unpack({0x21, 0xF3}, 3, 4, PackOrder::lsb_first), (Bytes{1, 2, 3}));
  EXPECT_EQ(unpack({0x12, 0x3F}, 3, 4, PackOrder::msb_first), (Bytes{1, 2, 3}));
  EXPECT_EQ(unpack({0x6C, 0xFF}, 5, 2, PackOrder::msb_first),
            (Bytes{1, 2, 3, 0, 3}));
}

// Independent bit-by-bit reference.
Bytes referencePack(const Bytes &codes, unsigned bits, PackOrder order) {
  size_t nbits = codes.size() * bits;
  Bytes out((nbits + 7) / 8, 0);
  for (size_t k = 0; k < codes.size(); ++k)
    for (unsigned i = 0; i < bits; ++i) {
      if (order == PackOrder::lsb_first) {
        // Code bit i -> stream bit k*bits + i, counted from the LSB.
        size_t p = k * bits + i;
        if ((codes[k] >> i) & 1)
          out[p / 8] |= 1u << (p % 8);
      } else {
        // Code bit (bits-1-i) -> stream bit k*bits + i, counted from the MSB.
        size_t p = k * bits + i;
        if ((codes[k] >> (bits - 1 - i)) & 1)
          out[p / 8] |= 0x80u >> (p % 8);
      }
    }
  return out;
}

TEST(Packing, RandomRoundTripsEveryWidthAndOrder) {
  quanttest::Rng rng(21);
  struct Case {
    unsigned bits;
    PackOrder order;
  };
  std::vector<Case> cases;
  for (unsigned b = 2; b <= 8; ++b)
    cases.push_back({b, PackOrder::lsb_first});
  cases.push_back({2, PackOrder::msb_first});
  cases.push_back({4, PackOrder::msb_first});
  for (const Case &c : cases) {
    for (int64_t n = 0; n <= 80; ++n) {
      for (int rep = 0; rep < 8; ++rep) {
        Bytes codes(n);
        for (uint8_t &v : codes)
          v = static_cast<uint8_t>(rng.next() & ((1u << c.bits) - 1));
        Bytes packed = pack(codes, c.bits, c.order);
        ASSERT_EQ(static_cast<int64_t>(packed.size()), (n * c.bits + 7) / 8);
        ASSERT_EQ(packed, referencePack(codes, c.bits, c.order))
            << "bits " << c.bits << " n " << n;
        ASSERT_EQ(unpack(packed, n, c.bits, c.order), codes)
            << "bits " << c.bits << " n " << n;
        // With high garbage bits in the inputs, the packed bytes are the same.
        Bytes dirty = codes;
        for (uint8_t &v : dirty)
          v |= static_cast<uint8_t>(rng.next() << c.bits);
        ASSERT_EQ(pack(dirty, c.bits, c.order), packed);
      }
    }
  }
}

TEST(Packing, ExhaustiveCodeValuesInEverySlot) {
  // Every code value in every position of a short row, 3..7 bits lsb_first.
  for (unsigned b = 2; b <= 7; ++b) {
    for (int64_t n = 1; n <= 9; ++n)
      for (int64_t k = 0; k < n; ++k)
        for (unsigned v = 0; v < (1u << b); ++v) {
          Bytes codes(n, 0);
          codes[k] = static_cast<uint8_t>(v);
          Bytes packed = pack(codes, b, PackOrder::lsb_first);
          ASSERT_EQ(packed, referencePack(codes, b, PackOrder::lsb_first));
          ASSERT_EQ(unpack(packed, n, b, PackOrder::lsb_first), codes);
        }
  }
}

} // namespace
