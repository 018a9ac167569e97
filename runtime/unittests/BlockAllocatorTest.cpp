//===- BlockAllocatorTest.cpp - Paged KV block manager tests --------------===//

#include "infer/runtime/BlockAllocator.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>

using namespace infer;
using namespace infer::runtime;

namespace {

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    const auto &s_ = (expr);                                                   \
    ASSERT_TRUE(s_.ok()) << s_.toString();                                     \
  } while (false)

std::vector<int32_t> iota(int32_t n, int32_t start = 0) {
  std::vector<int32_t> v(n);
  for (int32_t i = 0; i < n; ++i)
    v[i] = start + i;
  return v;
}

TEST(StatusTest, Basics) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  Status err = outOfMemoryError("boom");
  EXPECT_EQ(err.code(), StatusCode::OutOfMemory);
  EXPECT_EQ(err.toString(), "OutOfMemory: boom");
  StatusOr<int> v = 3;
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
  StatusOr<int> e = notFoundError("x");
  EXPECT_EQ(e.status().code(), StatusCode::NotFound);
  auto fn = [](bool fail) -> Status {
    INFER_RETURN_IF_ERROR(fail ? dataLossError("d") : okStatus());
    INFER_ASSIGN_OR_RETURN(int x, StatusOr<int>(fail ? 0 : 7));
    return x == 7 ? okStatus() : internalError("bad");
  };
  EXPECT_TRUE(fn(false).ok());
  EXPECT_EQ(fn(true).code(), StatusCode::DataLoss);
}

TEST(BlockAllocatorTest, NumBlocksFor) {
  EXPECT_EQ(BlockAllocator::numBlocksFor(1000, 0.9, 100), 9);
  EXPECT_EQ(BlockAllocator::numBlocksFor(1000, 1.0, 100), 10);
  EXPECT_EQ(BlockAllocator::numBlocksFor(1000, 0.0, 100), 0);
  EXPECT_EQ(BlockAllocator::numBlocksFor(1000, 0.5, 0), 0);
  EXPECT_EQ(BlockAllocator::numBlocksFor(size_t(80) << 30, 0.9, 2 << 20),
            36864);
}

TEST(BlockAllocatorTest, LazyAppendAndSlots) {
  BlockAllocator a(8, 4);
  SeqId s = a.addSequence().seq;
  std::vector<int32_t> slots;
  std::vector<BlockCopy> copies;
  ASSERT_OK(a.appendSlots(s, 3, nullptr, slots, copies));
  EXPECT_EQ(a.blockTable(s).size(), 1u);
  ASSERT_OK(a.appendSlots(s, 3, nullptr, slots, copies));
  ASSERT_EQ(a.blockTable(s).size(), 2u);
  ASSERT_EQ(slots.size(), 6u);
  const auto &t = a.blockTable(s);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(slots[i], t[i / 4] * 4 + i % 4);
  EXPECT_TRUE(copies.empty());
  BlockAllocatorStats st = a.stats();
  EXPECT_EQ(st.numUsedBlocks, 2);
  EXPECT_EQ(st.numFreeBlocks, 6);
  EXPECT_EQ(st.allocatedSlots, 8);
  EXPECT_EQ(st.filledSlots, 6);
  EXPECT_DOUBLE_EQ(a.waste(), 0.25);
  ASSERT_OK(a.checkInvariants());
  ASSERT_OK(a.freeSequence(s));
  EXPECT_EQ(a.numAvailableBlocks(), 8);
  EXPECT_EQ(a.freeSequence(s).code(), StatusCode::NotFound);
  ASSERT_OK(a.checkInvariants());
}

TEST(BlockAllocatorTest, OutOfMemoryHasNoSideEffects) {
  BlockAllocator a(2, 4);
  SeqId s = a.addSequence().seq;
  std::vector<int32_t> slots;
  std::vector<BlockCopy> copies;
  ASSERT_OK(a.appendSlots(s, 5, nullptr, slots, copies));
  Status st = a.appendSlots(s, 4, nullptr, slots, copies);
  EXPECT_EQ(st.code(), StatusCode::OutOfMemory);
  EXPECT_EQ(slots.size(), 5u);
  EXPECT_EQ(a.numTokens(s), 5);
  EXPECT_EQ(a.blockTable(s).size(), 2u);
  ASSERT_OK(a.appendSlots(s, 3, nullptr, slots, copies));
  ASSERT_OK(a.checkInvariants());
}

TEST(BlockAllocatorTest, ForkCopyOnWrite) {
  BlockAllocator a(8, 4);
  SeqId p = a.addSequence().seq;
  std::vector<int32_t> slots;
  std::vector<BlockCopy> copies;
  std::vector<int32_t> toks = iota(6);
  ASSERT_OK(a.appendSlots(p, 6, toks.data(), slots, copies));
  StatusOr<SeqId> c = a.fork(p);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(a.blockTable(*c), a.blockTable(p));
  EXPECT_EQ(a.refCount(a.blockTable(p)[1]), 2);
  ASSERT_OK(a.checkInvariants());
  // The child appends into the shared partial block: copy it first.
  int32_t shared = a.blockTable(p)[1];
  slots.clear();
  ASSERT_OK(a.appendSlots(*c, 1, nullptr, slots, copies));
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].srcBlock, shared);
  EXPECT_EQ(copies[0].dstBlock, a.blockTable(*c)[1]);
  EXPECT_EQ(slots[0], a.blockTable(*c)[1] * 4 + 2);
  EXPECT_EQ(a.blockTable(*c)[0], a.blockTable(p)[0]);
  // The parent now owns the old block alone: no copy.
  copies.clear();
  ASSERT_OK(a.appendSlots(p, 1, nullptr, slots, copies));
  EXPECT_TRUE(copies.empty());
  EXPECT_EQ(a.blockTable(p)[1], shared);
  EXPECT_EQ(a.stats().numCowCopies, 1);
  ASSERT_OK(a.checkInvariants());
}

TEST(BlockAllocatorTest, PrefixReuseAndLruEviction) {
  BlockAllocator a(4, 4);
  std::vector<int32_t> prompt = iota(10);
  std::vector<int32_t> slots;
  std::vector<BlockCopy> copies;
  auto ns = a.addSequence(prompt.data(), 10);
  EXPECT_EQ(ns.numCachedTokens, 0);
  ASSERT_OK(a.appendSlots(ns.seq, 10, prompt.data(), slots, copies));
  std::vector<int32_t> first = a.blockTable(ns.seq);
  EXPECT_EQ(a.lookupPrefix(prompt.data(), 10), 8);
  // Only (len - 1) / blockSize blocks can hit: the last token is computed.
  EXPECT_EQ(a.lookupPrefix(prompt.data(), 8), 4);
  EXPECT_EQ(a.lookupPrefix(prompt.data(), 9), 8);
  ASSERT_OK(a.freeSequence(ns.seq));
  BlockAllocatorStats st = a.stats();
  EXPECT_EQ(st.numCachedBlocks, 2);
  EXPECT_EQ(st.numFreeBlocks, 2);
  ASSERT_OK(a.checkInvariants());

  auto hit = a.addSequence(prompt.data(), 10);
  EXPECT_EQ(hit.numCachedTokens, 8);
  EXPECT_EQ(a.blockTable(hit.seq),
            std::vector<int32_t>(first.begin(), first.begin() + 2));
  EXPECT_EQ(a.numCommittedTokens(hit.seq), 8);
  ASSERT_OK(a.checkInvariants());
  ASSERT_OK(a.freeSequence(hit.seq));

  // A different prompt with a different first block misses.
  std::vector<int32_t> other = iota(10, 100);
  EXPECT_EQ(a.lookupPrefix(other.data(), 10), 0);
  // Fill the pool: free blocks first, then the LRU evicts the tail block
  // (freed before the head block), then the head block.
  SeqId s = a.addSequence().seq;
  ASSERT_OK(a.appendSlots(s, 8, nullptr, slots, copies));
  EXPECT_EQ(a.stats().numEvictions, 0);
  ASSERT_OK(a.appendSlots(s, 4, nullptr, slots, copies));
  EXPECT_EQ(a.stats().numEvictions, 1);
  EXPECT_EQ(a.lookupPrefix(prompt.data(), 10), 4);
  ASSERT_OK(a.appendSlots(s, 4, nullptr, slots, copies));
  EXPECT_EQ(a.lookupPrefix(prompt.data(), 10), 0);
  EXPECT_EQ(a.appendSlots(s, 1, nullptr, slots, copies).code(),
            StatusCode::OutOfMemory);
  ASSERT_OK(a.checkInvariants());
}

TEST(BlockAllocatorTest, PrefixCachingOff) {
  BlockAllocator a(4, 4, /*enablePrefixCaching=*/false);
  std::vector<int32_t> prompt = iota(10);
  std::vector<int32_t> slots;
  std::vector<BlockCopy> copies;
  auto ns = a.addSequence(prompt.data(), 10);
  ASSERT_OK(a.appendSlots(ns.seq, 10, prompt.data(), slots, copies));
  ASSERT_OK(a.freeSequence(ns.seq));
  EXPECT_EQ(a.stats().numCachedBlocks, 0);
  EXPECT_EQ(a.addSequence(prompt.data(), 10).numCachedTokens, 0);
  ASSERT_OK(a.checkInvariants());
}

TEST(BlockAllocatorTest, CommitLaterAndTruncate) {
  BlockAllocator a(8, 4);
  std::vector<int32_t> slots;
  std::vector<BlockCopy> copies;
  std::vector<int32_t> toks = iota(12);
  SeqId s = a.addSequence().seq;
  ASSERT_OK(a.appendSlots(s, 12, nullptr, slots, copies));
  EXPECT_EQ(a.lookupPrefix(toks.data(), 12), 0);
  EXPECT_EQ(a.fork(s).status().code(), StatusCode::InvalidArgument);
  ASSERT_OK(a.commitTokens(s, toks.data(), 12));
  EXPECT_EQ(a.commitTokens(s, toks.data(), 1).code(),
            StatusCode::InvalidArgument);
  EXPECT_EQ(a.lookupPrefix(toks.data(), 12), 8);
  // Truncate into the second (cached, solely owned) block: it is rewritten,
  // so it leaves the prefix cache.
  ASSERT_OK(a.truncate(s, 6));
  EXPECT_EQ(a.blockTable(s).size(), 2u);
  EXPECT_EQ(a.lookupPrefix(toks.data(), 12), 4);
  EXPECT_EQ(a.truncate(s, 7).code(), StatusCode::InvalidArgument);
  ASSERT_OK(a.checkInvariants());
  ASSERT_OK(a.truncate(s, 0));
  EXPECT_EQ(a.stats().numUsedBlocks, 0);
  ASSERT_OK(a.checkInvariants());
}

//===----------------------------------------------------------------------===//
// Property test against a shadow model with a fake KV pool.
//===----------------------------------------------------------------------===//

struct ShadowSeq {
  SeqId id;
  std::vector<int32_t> tokens; // Committed and uncommitted (known here).
  int32_t numCommitted;
};

class AllocatorFuzzer {
public:
  AllocatorFuzzer(int32_t numBlocks, int32_t blockSize, bool caching,
                  uint32_t seed)
      : a(numBlocks, blockSize, caching), bs(blockSize),
        pool(static_cast<size_t>(numBlocks) * blockSize, -1), rng(seed) {
    std::uniform_int_distribution<int32_t> tok(0, 1000);
    for (int p = 0; p < 6; ++p) {
      prefixes.emplace_back(p * 7 + 3);
      for (int32_t &t : prefixes.back())
        t = tok(rng);
    }
  }

  int32_t rand(int32_t lo, int32_t hi) {
    return std::uniform_int_distribution<int32_t>(lo, hi)(rng);
  }

  // Writes copies and tokens into the fake KV pool the way an executor does.
  void execute(const std::vector<int32_t> &slots, const int32_t *toks) {
    for (const BlockCopy &c : copies)
      std::memcpy(&pool[size_t(c.dstBlock) * bs],
                  &pool[size_t(c.srcBlock) * bs], sizeof(int32_t) * bs);
    for (size_t i = 0; i < slots.size(); ++i)
      pool[slots[i]] = toks[i];
  }

  bool readBack(const ShadowSeq &s) {
    const std::vector<int32_t> &table = a.blockTable(s.id);
    if (a.numTokens(s.id) != static_cast<int32_t>(s.tokens.size()))
      return false;
    for (size_t p = 0; p < s.tokens.size(); ++p)
      if (pool[size_t(table[p / bs]) * bs + p % bs] != s.tokens[p])
        return false;
    return true;
  }

  // Appends `toks`, committing now or later. Returns false on OOM.
  bool append(ShadowSeq &s, const std::vector<int32_t> &toks, bool commitNow) {
    slots.clear();
    copies.clear();
    int32_t availBefore = a.numAvailableBlocks();
    int32_t need = a.numBlocksNeeded(s.id, toks.size());
    std::vector<int32_t> tableBefore = a.blockTable(s.id);
    Status st = a.appendSlots(s.id, toks.size(),
                              commitNow ? toks.data() : nullptr, slots, copies);
    if (!st.ok()) {
      EXPECT_EQ(st.code(), StatusCode::OutOfMemory);
      EXPECT_GT(need, availBefore);
      EXPECT_EQ(a.numAvailableBlocks(), availBefore);
      EXPECT_EQ(a.blockTable(s.id), tableBefore);
      EXPECT_TRUE(slots.empty() && copies.empty());
      ++numOom;
      return false;
    }
    EXPECT_EQ(availBefore - a.numAvailableBlocks(), need);
    EXPECT_EQ(slots.size(), toks.size());
    execute(slots, toks.data());
    s.tokens.insert(s.tokens.end(), toks.begin(), toks.end());
    if (commitNow) {
      s.numCommitted = s.tokens.size();
    } else {
      Status c = a.commitTokens(s.id, toks.data(), toks.size());
      EXPECT_TRUE(c.ok()) << c.toString();
      s.numCommitted = s.tokens.size();
    }
    return true;
  }

  void newSequence() {
    std::vector<int32_t> prompt = prefixes[rand(0, prefixes.size() - 1)];
    int32_t tail = rand(0, 12);
    for (int32_t i = 0; i < tail; ++i)
      prompt.push_back(rand(0, 3));
    auto ns = a.addSequence(prompt.data(), prompt.size());
    ShadowSeq s{ns.seq,
                std::vector<int32_t>(prompt.begin(),
                                     prompt.begin() + ns.numCachedTokens),
                ns.numCachedTokens};
    // Cached blocks must already hold the prompt's tokens.
    EXPECT_TRUE(readBack(s)) << "prefix cache returned wrong content";
    std::vector<int32_t> rest(prompt.begin() + ns.numCachedTokens,
                              prompt.end());
    if (!append(s, rest, rand(0, 3) != 0)) {
      Status st = a.freeSequence(s.id);
      EXPECT_TRUE(st.ok());
      return;
    }
    live.push_back(std::move(s));
  }

  void op() {
    int32_t r = rand(0, 99);
    if (live.empty() || r < 12) {
      newSequence();
      return;
    }
    size_t i = rand(0, live.size() - 1);
    ShadowSeq &s = live[i];
    if (r < 60) {
      std::vector<int32_t> toks(rand(1, 2 * bs));
      for (int32_t &t : toks)
        t = rand(0, 3);
      if (s.tokens.size() + toks.size() > 40u * bs || !append(s, toks, r < 50))
        freeAt(i); // Too long, or OOM: make room.
    } else if (r < 72) {
      StatusOr<SeqId> c = a.fork(s.id);
      ASSERT_TRUE(c.ok()) << c.status().toString();
      live.push_back({*c, live[i].tokens, live[i].numCommitted});
    } else if (r < 84) {
      freeAt(i);
    } else if (r < 90) {
      int32_t len = rand(0, s.tokens.size());
      Status st = a.truncate(s.id, len);
      ASSERT_TRUE(st.ok()) << st.toString();
      s.tokens.resize(len);
      s.numCommitted = std::min<int32_t>(s.numCommitted, len);
    } else if (r < 95) {
      EXPECT_EQ(a.lookupPrefix(s.tokens.data(), s.tokens.size()) % bs, 0);
    } else {
      ASSERT_TRUE(readBack(s)) << "sequence content corrupted";
    }
  }

  void freeAt(size_t i) {
    ASSERT_TRUE(a.freeSequence(live[i].id).ok());
    live[i] = std::move(live.back());
    live.pop_back();
  }

  BlockAllocator a;
  int32_t bs;
  std::vector<int32_t> pool;
  std::mt19937 rng;
  std::vector<std::vector<int32_t>> prefixes;
  std::vector<ShadowSeq> live;
  std::vector<int32_t> slots;
  std::vector<BlockCopy> copies;
  int64_t numOom = 0;
};

void runFuzz(int32_t numBlocks, int32_t blockSize, bool caching, int ops) {
  AllocatorFuzzer f(numBlocks, blockSize, caching, /*seed=*/12345);
  for (int i = 0; i < ops; ++i) {
    f.op();
    if (::testing::Test::HasFatalFailure())
      return;
    if (i % 5000 == 0) {
      Status st = f.a.checkInvariants();
      ASSERT_TRUE(st.ok()) << "op " << i << ": " << st.toString();
    }
    if (i % 100000 == 0)
      for (const ShadowSeq &s : f.live)
        ASSERT_TRUE(f.readBack(s)) << "op " << i;
  }
  for (const ShadowSeq &s : f.live)
    ASSERT_TRUE(f.readBack(s));
  ASSERT_OK(f.a.checkInvariants());
  BlockAllocatorStats st = f.a.stats();
  std::printf("  %d ops: %lld OOM, %lld CoW copies, %lld/%lld prefix block "
              "hits, %lld evictions, %zu live seqs, waste %.3f\n",
              ops, (long long)f.numOom, (long long)st.numCowCopies,
              (long long)st.prefixHitBlocks, (long long)st.prefixQueryBlocks,
              (long long)st.numEvictions, f.live.size(), st.waste);
  EXPECT_GT(st.numCowCopies, 0);
  EXPECT_GT(f.numOom, 0);
  if (caching) {
    EXPECT_GT(st.prefixHitBlocks, 0);
    EXPECT_GT(st.numEvictions, 0);
  }
  while (!f.live.empty())
    f.freeAt(f.live.size() - 1);
  ASSERT_OK(f.a.checkInvariants());
  st = f.a.stats();
  EXPECT_EQ(st.numUsedBlocks, 0);
  EXPECT_EQ(st.numFreeBlocks + st.numCachedBlocks, numBlocks);
  EXPECT_EQ(f.a.numAvailableBlocks(), numBlocks);
  EXPECT_EQ(f.a.numSequences(), 0);
}

TEST(BlockAllocatorPropertyTest, RandomOpsPrefixCaching) {
  runFuzz(/*numBlocks=*/256, /*blockSize=*/4, /*caching=*/true, 700000);
}

TEST(BlockAllocatorPropertyTest, RandomOpsNoPrefixCaching) {
  runFuzz(/*numBlocks=*/128, /*blockSize=*/16, /*caching=*/false, 300000);
}

} // namespace
