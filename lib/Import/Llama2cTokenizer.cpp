//===- Llama2cTokenizer.cpp - llama2.c BPE tokenizer ----------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant/Import/Llama2cTokenizer.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace quantopt;

llvm::Expected<std::unique_ptr<Llama2cTokenizer>>
Llama2cTokenizer::open(llvm::StringRef path, int32_t vocabSize) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buffer)
    return llvm::createStringError(llvm::formatv("{0}: cannot open: {1}", path,
                                                 buffer.getError().message())
                                       .str());
  llvm::StringRef data = (*buffer)->getBuffer();
  size_t offset = 0;
  auto read = [&](void *out, size_t bytes) {
    if (data.size() - offset < bytes)
      return false;
    std::memcpy(out, data.data() + offset, bytes);
    offset += bytes;
    return true;
  };
  auto fail = [&](const llvm::Twine &what) {
    return llvm::createStringError(
        llvm::formatv("{0}: {1}", path, what.str()).str());
  };
  int32_t maxLength;
  if (!read(&maxLength, 4))
    return fail("too small for a llama2.c tokenizer header");
  std::unique_ptr<Llama2cTokenizer> tok(new Llama2cTokenizer());
  for (int32_t i = 0; i < vocabSize; ++i) {
    float score;
    int32_t length;
    if (!read(&score, 4) || !read(&length, 4))
      return fail(llvm::formatv("truncated at token {0} of {1}", i, vocabSize));
    if (length < 0 || length > maxLength ||
        size_t(length) > data.size() - offset)
      return fail(
          llvm::formatv("token {0} has an invalid length {1}", i, length));
    tok->pieces.emplace_back(data.data() + offset, length);
    offset += length;
    tok->scores.push_back(score);
    tok->ids.emplace(tok->pieces.back(), i);
  }
  if (offset != data.size())
    return fail(llvm::formatv("{0} trailing bytes after {1} tokens; the "
                              "vocabulary size does not match",
                              data.size() - offset, vocabSize));
  return std::move(tok);
}

std::vector<int32_t> Llama2cTokenizer::encode(llvm::StringRef text, bool bos,
                                              bool eos) const {
  std::vector<int32_t> tokens;
  if (bos)
    tokens.push_back(kBos);
  auto lookup = [&](const std::string &piece) {
    auto it = ids.find(piece);
    return it == ids.end() ? -1 : it->second;
  };
  if (!text.empty())
    tokens.push_back(lookup(" "));
  // Split into UTF-8 code points (at most 4 bytes each).
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    while (i + len < text.size() && len < 4 &&
           (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80)
      ++len;
    std::string piece = text.substr(i, len).str();
    int32_t id = lookup(piece);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (unsigned char c : piece)
        tokens.push_back(int32_t(c) + 3);
    }
    i += len;
  }
  // Merge the best-scoring adjacent pair until none exists.
  size_t start = bos ? 1 : 0;
  while (true) {
    float bestScore = -1e10f;
    int32_t bestId = -1;
    size_t bestIdx = 0;
    for (size_t i = start; i + 1 < tokens.size(); ++i) {
      if (tokens[i] < 0 || tokens[i + 1] < 0)
        continue;
      int32_t id = lookup(pieces[tokens[i]] + pieces[tokens[i + 1]]);
      if (id >= 0 && scores[id] > bestScore) {
        bestScore = scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestId < 0)
      break;
    tokens[bestIdx] = bestId;
    tokens.erase(tokens.begin() + bestIdx + 1);
  }
  if (eos)
    tokens.push_back(kEos);
  return tokens;
}

std::string Llama2cTokenizer::decode(int32_t previous, int32_t token) const {
  if (token < 0 || token >= size())
    return "";
  llvm::StringRef piece = pieces[token];
  if (previous == kBos && piece.starts_with(" "))
    piece = piece.drop_front();
  unsigned byte;
  if (piece.size() == 6 && piece.starts_with("<0x") && piece.ends_with(">") &&
      !piece.substr(3, 2).getAsInteger(16, byte))
    return std::string(1, char(byte));
  return piece.str();
}
