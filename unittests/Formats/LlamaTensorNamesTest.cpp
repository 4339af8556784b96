//===- LlamaTensorNamesTest.cpp - The Llama tensor name table -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Formats/LlamaTensorNames.h"

#include <gtest/gtest.h>

using namespace quantopt;

TEST(LlamaTensorNames, NamesOfEachConvention) {
  using R = LlamaTensorRole;
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::Llama2c, R::AttnQ, 3), "wq.3");
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::Llama2c, R::FfnNorm, 0),
            "rms_ffn.0");
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::HuggingFace, R::FfnDown, 12),
            "model.layers.12.mlp.down_proj.weight");
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::HuggingFace, R::AttnNorm, 1),
            "model.layers.1.input_layernorm.weight");
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::GGUF, R::AttnOutput, 7),
            "blk.7.attn_output.weight");
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::GGUF, R::TokenEmbedding),
            "token_embd.weight");
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::GGUF, R::FinalNorm),
            "output_norm.weight");
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::HuggingFace, R::Output),
            "lm_head.weight");
  EXPECT_EQ(getLlamaTensorName(LlamaNaming::Llama2c, R::Output), "wcls");
}

TEST(LlamaTensorNames, EveryNameParsesBack) {
  for (LlamaNaming naming :
       {LlamaNaming::Llama2c, LlamaNaming::HuggingFace, LlamaNaming::GGUF})
    for (int r = 0; r <= static_cast<int>(LlamaTensorRole::FfnUp); ++r) {
      auto role = static_cast<LlamaTensorRole>(r);
      int64_t layer = isPerLayerRole(role) ? 17 : -1;
      std::string name = getLlamaTensorName(naming, role, layer);
      std::optional<LlamaTensorId> id = parseLlamaTensorName(name);
      ASSERT_TRUE(id) << name;
      EXPECT_EQ(id->role, role) << name;
      EXPECT_EQ(id->layer, layer) << name;
      EXPECT_EQ(id->naming, naming) << name;
    }
}

TEST(LlamaTensorNames, OtherNamesAreNotLlamaTensors) {
  for (const char *name :
       {"fc.weight", "wq", "wq.", "wq.x", "wq.-1", "blk.3.attn_q",
        "blk.3.attn_qq.weight", "model.layers.3.mlp.down_proj",
        "model.layers.x.mlp.down_proj.weight", "output", "blk..attn_q.weight",
        "matmul_3"})
    EXPECT_FALSE(parseLlamaTensorName(name)) << name;
}
