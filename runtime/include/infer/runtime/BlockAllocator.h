//===- BlockAllocator.h - Paged KV cache block manager ----------*- C++ -*-===//
//
// Manages the ids of a fixed pool of KV blocks (`blockSize` tokens each): per
// sequence block tables with lazy allocation, refcounts, fork with
// copy-on-write of a shared partial last block, and prefix sharing keyed by a
// hash chain over full blocks. Freed hashed blocks stay in an LRU cache until
// a fresh block is needed. It owns no tensor memory: slot = block * blockSize
// + offset indexes the executor's KV pool.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_BLOCKALLOCATOR_H
#define INFER_RUNTIME_BLOCKALLOCATOR_H

#include "infer/runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace infer::runtime {

/// Handle of a sequence inside a BlockAllocator (assigned by it, reused).
using SeqId = int32_t;

/// The executor copies the KV content of `srcBlock` into `dstBlock` before
/// writing any KV of the step that produced the copy.
struct BlockCopy {
  int32_t srcBlock;
  int32_t dstBlock;
  bool operator==(const BlockCopy &o) const {
    return srcBlock == o.srcBlock && dstBlock == o.dstBlock;
  }
};

struct BlockAllocatorStats {
  int32_t numBlocks = 0;
  int32_t numUsedBlocks = 0;     ///< Referenced by at least one sequence.
  int32_t numFreeBlocks = 0;     ///< Free, no cached content.
  int32_t numCachedBlocks = 0;   ///< Unreferenced, hashed, evictable (LRU).
  int64_t allocatedSlots = 0;    ///< numUsedBlocks * blockSize.
  int64_t filledSlots = 0;       ///< Slots of used blocks holding a token.
  double waste = 0.0;            ///< 1 - filledSlots / allocatedSlots.
  int64_t prefixQueryBlocks = 0; ///< Full prompt blocks looked up.
  int64_t prefixHitBlocks = 0;   ///< ... of which were found in the cache.
  int64_t numEvictions = 0;
  int64_t numCowCopies = 0;
};

class BlockAllocator {
public:
  explicit BlockAllocator(int32_t numBlocks, int32_t blockSize = 16,
                          bool enablePrefixCaching = true);

  /// Blocks that fit in `fraction` of `freeBytes` (0 on bad input).
  static int32_t numBlocksFor(size_t freeBytes, double fraction,
                              size_t bytesPerBlock);

  int32_t numBlocks() const { return static_cast<int32_t>(blocks.size()); }
  int32_t blockSize() const { return blkSize; }
  bool prefixCachingEnabled() const { return prefixCaching; }
  /// Blocks obtainable for new data: free plus evictable.
  int32_t numAvailableBlocks() const {
    return static_cast<int32_t>(freeList.size()) + numCached;
  }

  struct NewSequence {
    SeqId seq;
    int32_t numCachedTokens; ///< Prompt tokens already in the KV pool.
  };
  /// Creates a sequence. With prefix caching, reuses the cached full blocks
  /// of `prompt`, leaving at least the last prompt token uncached (so that it
  /// is computed and gives logits). The cached tokens count as appended and
  /// committed. Never allocates fresh blocks.
  NewSequence addSequence(const int32_t *prompt = nullptr,
                          int32_t promptLen = 0);
  /// Same lookup as addSequence, without side effects.
  int32_t lookupPrefix(const int32_t *prompt, int32_t promptLen) const;

  /// New sequence sharing all of `parent`'s blocks. All of the parent's
  /// tokens must be committed.
  StatusOr<SeqId> fork(SeqId parent);
  /// Drops the sequence; hashed blocks whose refcount reaches 0 are cached.
  Status freeSequence(SeqId seq);

  /// Fresh blocks that appendSlots(seq, n) would take (new blocks + CoW).
  int32_t numBlocksNeeded(SeqId seq, int32_t n) const;
  /// Appends `n` token slots; pushes their slot ids onto `slots` and any
  /// copy-on-write onto `copies`. `tokens` (may be null) are the token ids,
  /// committed at once. OutOfMemory leaves everything unchanged.
  Status appendSlots(SeqId seq, int32_t n, const int32_t *tokens,
                     std::vector<int32_t> &slots,
                     std::vector<BlockCopy> &copies);
  /// Records token ids of slots appended without tokens (in order).
  Status commitTokens(SeqId seq, const int32_t *tokens, int32_t n);
  /// Shortens the sequence to `numTokens` (speculation rollback).
  Status truncate(SeqId seq, int32_t numTokens);

  bool isValid(SeqId seq) const {
    return seq >= 0 && static_cast<size_t>(seq) < seqs.size() &&
           seqs[seq].active;
  }
  const std::vector<int32_t> &blockTable(SeqId seq) const {
    assert(isValid(seq));
    return seqs[seq].blockTable;
  }
  int32_t numTokens(SeqId seq) const {
    assert(isValid(seq));
    return seqs[seq].numTokens;
  }
  int32_t numCommittedTokens(SeqId seq) const {
    assert(isValid(seq));
    return seqs[seq].numCommitted;
  }
  int32_t refCount(int32_t block) const { return blocks[block].refCount; }
  int32_t numSequences() const {
    return static_cast<int32_t>(seqs.size() - freeSeqIds.size());
  }

  BlockAllocatorStats stats() const;
  /// Internal fragmentation: allocated slots not holding a token, as a
  /// fraction of allocated slots (0 when nothing is allocated).
  double waste() const;
  /// Verifies refcounts, set membership, hashes and per-sequence metadata.
  Status checkInvariants() const;

private:
  struct Block {
    int32_t refCount = 0;
    int32_t filled = 0; ///< High-water mark of written slots while used.
    int32_t prev = -1;  ///< LRU links (cached blocks only).
    int32_t next = -1;
    bool hashed = false;
    uint64_t hash = 0;
  };
  struct Seq {
    bool active = false;
    int32_t numTokens = 0;
    int32_t numCommitted = 0;
    std::vector<int32_t> blockTable;
    std::vector<uint64_t> blockHashes; ///< Chain hash per full committed block.
  };

  /// Open-addressing map from chain hash to block (no allocation after
  /// construction; at most one entry per block, load <= 1/2).
  class HashIndex {
  public:
    explicit HashIndex(int32_t numBlocks);
    int32_t find(uint64_t key) const;
    bool insert(uint64_t key, int32_t block);
    void erase(uint64_t key);
    size_t size() const { return count; }
    template <typename Fn> void forEach(Fn fn) const {
      for (const Entry &e : slots)
        if (e.block >= 0)
          fn(e.key, e.block);
    }

  private:
    struct Entry {
      uint64_t key = 0;
      int32_t block = -1; ///< -1: empty.
    };
    std::vector<Entry> slots;
    uint64_t mask = 0;
    size_t count = 0;
  };

  SeqId newSeq();
  int32_t takeFreshBlock();
  void acquire(int32_t block);
  void release(int32_t block);
  void unregisterHash(int32_t block);
  void lruPushBack(int32_t block);
  void lruRemove(int32_t block);
  void commit(Seq &s, const int32_t *tokens, int32_t n);
  Status checkSeq(SeqId seq) const;
  int32_t findCached(uint64_t hash, const int32_t *tokens) const;

  int32_t blkSize;
  bool prefixCaching;
  std::vector<Block> blocks;
  std::vector<int32_t> freeList;
  int32_t lruHead = -1, lruTail = -1, numCached = 0;
  int32_t numUsed = 0;
  int64_t filledUsed = 0;
  HashIndex hashToBlock;
  std::vector<int32_t> blockTokens; ///< Token ids per slot (prefix caching).
  std::vector<Seq> seqs;
  std::vector<SeqId> freeSeqIds;
  int64_t prefixQueryBlocks = 0, prefixHitBlocks = 0;
  int64_t numEvictions = 0, numCowCopies = 0;
};

} // namespace infer::runtime

#endif // INFER_RUNTIME_BLOCKALLOCATOR_H
