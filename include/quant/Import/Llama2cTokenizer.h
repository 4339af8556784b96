//===- Llama2cTokenizer.h - llama2.c BPE tokenizer --------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The sentencepiece-BPE tokenizer of llama2.c's `tokenizer.bin` / `tok512.bin`
// files: int32 max_token_length, then per token a float score, an int32
// length and the bytes. Ids 0, 1, 2 are <unk>, <s>, </s>; pieces "<0xHH>"
// are byte fallbacks.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_IMPORT_LLAMA2CTOKENIZER_H
#define QUANT_IMPORT_LLAMA2CTOKENIZER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace quantopt {

class Llama2cTokenizer {
public:
  static constexpr int32_t kBos = 1, kEos = 2;

  /// Reads `path`, which must describe exactly `vocabSize` tokens.
  static llvm::Expected<std::unique_ptr<Llama2cTokenizer>>
  open(llvm::StringRef path, int32_t vocabSize);

  /// llama2.c's encode(): a dummy prefix space, code points looked up in the
  /// vocabulary (bytes + 3 when absent), then repeatedly the best-scoring
  /// adjacent merge. Optionally prepends BOS / appends EOS.
  std::vector<int32_t> encode(llvm::StringRef text, bool bos, bool eos) const;

  /// The bytes `token` stands for after `previous` (llama2.c's decode(): the
  /// leading space after BOS is dropped, "<0xHH>" is the byte HH).
  std::string decode(int32_t previous, int32_t token) const;

  int32_t size() const { return int32_t(pieces.size()); }
  /// The vocabulary entry of `id` (0 <= id < size()) and its merge score.
  llvm::StringRef getPiece(int32_t id) const { return pieces[id]; }
  float getScore(int32_t id) const { return scores[id]; }

private:
  Llama2cTokenizer() = default;
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::unordered_map<std::string, int32_t> ids;
};

} // namespace quantopt

#endif // QUANT_IMPORT_LLAMA2CTOKENIZER_H
