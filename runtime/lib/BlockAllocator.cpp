//===- BlockAllocator.cpp - Paged KV cache block manager ------------------===//

#include "infer/runtime/BlockAllocator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

using namespace infer;
using namespace infer::runtime;

namespace {
constexpr uint64_t kChainSeed = 0x9e3779b97f4a7c15ULL;

uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/// Hash of a full block chained on the hash of the previous block.
uint64_t hashBlock(uint64_t prev, const int32_t *tokens, int32_t n) {
  uint64_t h = mix64(prev + kChainSeed);
  for (int32_t i = 0; i < n; ++i)
    h = mix64(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(tokens[i])) +
                   0x632be59bd9b4e019ULL));
  return h;
}

int32_t ceilDiv(int32_t a, int32_t b) { return (a + b - 1) / b; }
} // namespace

BlockAllocator::BlockAllocator(int32_t numBlocks, int32_t blockSize,
                               bool enablePrefixCaching)
    : blkSize(std::max(blockSize, 1)), prefixCaching(enablePrefixCaching),
      blocks(std::max(numBlocks, 0)),
      hashToBlock(enablePrefixCaching ? std::max(numBlocks, 0) : 0) {
  assert(numBlocks >= 0 && blockSize >= 1);
  freeList.reserve(blocks.size());
  for (int32_t b = numBlocks - 1; b >= 0; --b)
    freeList.push_back(b);
  if (prefixCaching)
    blockTokens.assign(blocks.size() * blkSize, 0);
}

int32_t BlockAllocator::numBlocksFor(size_t freeBytes, double fraction,
                                     size_t bytesPerBlock) {
  if (bytesPerBlock == 0 || !(fraction > 0.0) || fraction > 1.0)
    return 0;
  double n = std::floor(static_cast<double>(freeBytes) * fraction /
                        static_cast<double>(bytesPerBlock));
  return static_cast<int32_t>(std::min(n, 2147483647.0));
}

//===----------------------------------------------------------------------===//
// HashIndex (linear probing, backward-shift deletion). Keys are already
// well-mixed hashes, so their low bits pick the home slot.
//===----------------------------------------------------------------------===//

BlockAllocator::HashIndex::HashIndex(int32_t numBlocks) {
  size_t cap = 16;
  while (cap < 2 * static_cast<size_t>(numBlocks))
    cap *= 2;
  slots.resize(cap);
  mask = cap - 1;
}

int32_t BlockAllocator::HashIndex::find(uint64_t key) const {
  for (uint64_t i = key & mask;; i = (i + 1) & mask) {
    const Entry &e = slots[i];
    if (e.block < 0)
      return -1;
    if (e.key == key)
      return e.block;
  }
}

bool BlockAllocator::HashIndex::insert(uint64_t key, int32_t block) {
  assert(count < slots.size() / 2 + 1 && "HashIndex over capacity");
  for (uint64_t i = key & mask;; i = (i + 1) & mask) {
    Entry &e = slots[i];
    if (e.block < 0) {
      e.key = key;
      e.block = block;
      ++count;
      return true;
    }
    if (e.key == key)
      return false;
  }
}

void BlockAllocator::HashIndex::erase(uint64_t key) {
  uint64_t i = key & mask;
  while (slots[i].key != key || slots[i].block < 0) {
    if (slots[i].block < 0)
      return;
    i = (i + 1) & mask;
  }
  // Shift later members of the probe run back into the hole.
  for (uint64_t j = (i + 1) & mask; slots[j].block >= 0; j = (j + 1) & mask) {
    uint64_t home = slots[j].key & mask;
    // Move j to i unless its home lies cyclically in (i, j].
    bool inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!inRange) {
      slots[i] = slots[j];
      i = j;
    }
  }
  slots[i] = Entry();
  --count;
}

//===----------------------------------------------------------------------===//
// Block pool
//===----------------------------------------------------------------------===//

void BlockAllocator::lruPushBack(int32_t b) {
  blocks[b].prev = lruTail;
  blocks[b].next = -1;
  if (lruTail >= 0)
    blocks[lruTail].next = b;
  else
    lruHead = b;
  lruTail = b;
  ++numCached;
}

void BlockAllocator::lruRemove(int32_t b) {
  Block &blk = blocks[b];
  if (blk.prev >= 0)
    blocks[blk.prev].next = blk.next;
  else
    lruHead = blk.next;
  if (blk.next >= 0)
    blocks[blk.next].prev = blk.prev;
  else
    lruTail = blk.prev;
  blk.prev = blk.next = -1;
  --numCached;
}

void BlockAllocator::unregisterHash(int32_t b) {
  Block &blk = blocks[b];
  if (hashToBlock.find(blk.hash) == b)
    hashToBlock.erase(blk.hash);
  blk.hashed = false;
  blk.hash = 0;
}

int32_t BlockAllocator::takeFreshBlock() {
  int32_t b;
  if (!freeList.empty()) {
    b = freeList.back();
    freeList.pop_back();
  } else {
    // Evict the least recently freed cached block.
    b = lruHead;
    assert(b >= 0 && "no block available");
    lruRemove(b);
    unregisterHash(b);
    ++numEvictions;
  }
  blocks[b].refCount = 1;
  blocks[b].filled = 0;
  ++numUsed;
  return b;
}

void BlockAllocator::acquire(int32_t b) {
  Block &blk = blocks[b];
  if (blk.refCount++ == 0) {
    lruRemove(b);
    ++numUsed;
    filledUsed += blk.filled;
  }
}

void BlockAllocator::release(int32_t b) {
  Block &blk = blocks[b];
  assert(blk.refCount > 0);
  if (--blk.refCount > 0)
    return;
  --numUsed;
  filledUsed -= blk.filled;
  if (blk.hashed) {
    lruPushBack(b);
  } else {
    blk.filled = 0;
    freeList.push_back(b);
  }
}

int32_t BlockAllocator::findCached(uint64_t hash, const int32_t *tokens) const {
  int32_t b = hashToBlock.find(hash);
  if (b < 0)
    return -1;
  // Guard against hash collisions on the block itself.
  if (std::memcmp(&blockTokens[static_cast<size_t>(b) * blkSize], tokens,
                  sizeof(int32_t) * blkSize) != 0)
    return -1;
  return b;
}

//===----------------------------------------------------------------------===//
// Sequences
//===----------------------------------------------------------------------===//

SeqId BlockAllocator::newSeq() {
  SeqId id;
  if (!freeSeqIds.empty()) {
    id = freeSeqIds.back();
    freeSeqIds.pop_back();
  } else {
    id = static_cast<SeqId>(seqs.size());
    seqs.emplace_back();
  }
  Seq &s = seqs[id];
  s.active = true;
  s.numTokens = s.numCommitted = 0;
  s.blockTable.clear();
  s.blockHashes.clear();
  return id;
}

Status BlockAllocator::checkSeq(SeqId seq) const {
  if (!isValid(seq))
    return notFoundError("unknown sequence " + std::to_string(seq));
  return okStatus();
}

int32_t BlockAllocator::lookupPrefix(const int32_t *prompt,
                                     int32_t promptLen) const {
  if (!prefixCaching || !prompt || promptLen < 2)
    return 0;
  int32_t maxBlocks = (promptLen - 1) / blkSize;
  uint64_t h = 0;
  int32_t i = 0;
  for (; i < maxBlocks; ++i) {
    h = hashBlock(h, prompt + static_cast<size_t>(i) * blkSize, blkSize);
    if (findCached(h, prompt + static_cast<size_t>(i) * blkSize) < 0)
      break;
  }
  return i * blkSize;
}

BlockAllocator::NewSequence BlockAllocator::addSequence(const int32_t *prompt,
                                                        int32_t promptLen) {
  SeqId id = newSeq();
  Seq &s = seqs[id];
  if (!prefixCaching || !prompt || promptLen < 2)
    return {id, 0};
  int32_t maxBlocks = (promptLen - 1) / blkSize;
  prefixQueryBlocks += maxBlocks;
  uint64_t h = 0;
  for (int32_t i = 0; i < maxBlocks; ++i) {
    const int32_t *toks = prompt + static_cast<size_t>(i) * blkSize;
    h = hashBlock(h, toks, blkSize);
    int32_t b = findCached(h, toks);
    if (b < 0)
      break;
    acquire(b);
    s.blockTable.push_back(b);
    s.blockHashes.push_back(h);
    ++prefixHitBlocks;
  }
  s.numTokens = s.numCommitted =
      static_cast<int32_t>(s.blockTable.size()) * blkSize;
  return {id, s.numTokens};
}

StatusOr<SeqId> BlockAllocator::fork(SeqId parent) {
  INFER_RETURN_IF_ERROR(checkSeq(parent));
  if (seqs[parent].numCommitted != seqs[parent].numTokens)
    return invalidArgumentError("fork of a sequence with uncommitted tokens");
  SeqId child = newSeq();
  // newSeq may reallocate `seqs`: index again.
  const Seq &p = seqs[parent];
  Seq &c = seqs[child];
  c.numTokens = p.numTokens;
  c.numCommitted = p.numCommitted;
  c.blockTable = p.blockTable;
  c.blockHashes = p.blockHashes;
  for (int32_t b : c.blockTable)
    ++blocks[b].refCount;
  return child;
}

Status BlockAllocator::freeSequence(SeqId seq) {
  INFER_RETURN_IF_ERROR(checkSeq(seq));
  Seq &s = seqs[seq];
  // Release tail blocks first so that they are evicted before the prefix.
  for (auto it = s.blockTable.rbegin(); it != s.blockTable.rend(); ++it)
    release(*it);
  s.blockTable.clear();
  s.blockHashes.clear();
  s.numTokens = s.numCommitted = 0;
  s.active = false;
  freeSeqIds.push_back(seq);
  return okStatus();
}

int32_t BlockAllocator::numBlocksNeeded(SeqId seq, int32_t n) const {
  assert(isValid(seq));
  const Seq &s = seqs[seq];
  int32_t need = ceilDiv(s.numTokens + n, blkSize) -
                 static_cast<int32_t>(s.blockTable.size());
  if (n > 0 && s.numTokens % blkSize != 0 &&
      blocks[s.blockTable.back()].refCount > 1)
    ++need;
  return need;
}

Status BlockAllocator::appendSlots(SeqId seq, int32_t n, const int32_t *tokens,
                                   std::vector<int32_t> &slots,
                                   std::vector<BlockCopy> &copies) {
  if (!isValid(seq))
    return checkSeq(seq);
  if (n < 0)
    return invalidArgumentError("negative slot count");
  Seq &s = seqs[seq];
  if (tokens && s.numCommitted != s.numTokens)
    return invalidArgumentError("append with tokens after uncommitted slots");
  if (n == 0)
    return okStatus();
  int32_t need = numBlocksNeeded(seq, n);
  if (need > numAvailableBlocks())
    return outOfMemoryError("KV pool exhausted: need " + std::to_string(need) +
                            " blocks, " + std::to_string(numAvailableBlocks()) +
                            " available");

  int32_t t = s.numTokens;
  int32_t off = t % blkSize;
  if (off != 0) {
    int32_t last = s.blockTable.back();
    if (blocks[last].refCount > 1) {
      // Copy-on-write of the shared partial last block.
      int32_t fresh = takeFreshBlock();
      blocks[fresh].filled = off;
      filledUsed += off;
      if (prefixCaching)
        std::memcpy(&blockTokens[static_cast<size_t>(fresh) * blkSize],
                    &blockTokens[static_cast<size_t>(last) * blkSize],
                    sizeof(int32_t) * off);
      release(last);
      s.blockTable.back() = fresh;
      copies.push_back({last, fresh});
      ++numCowCopies;
    } else if (blocks[last].hashed) {
      // Sole owner about to overwrite a cached block's content.
      unregisterHash(last);
    }
  }
  int32_t end = t + n;
  while (static_cast<int32_t>(s.blockTable.size()) * blkSize < end)
    s.blockTable.push_back(takeFreshBlock());

  for (int32_t idx = t / blkSize, lastIdx = (end - 1) / blkSize; idx <= lastIdx;
       ++idx) {
    int32_t b = s.blockTable[idx];
    int32_t base = idx * blkSize;
    int32_t lo = std::max(t, base) - base;
    int32_t hi = std::min(end, base + blkSize) - base;
    int32_t slot0 = b * blkSize;
    for (int32_t o = lo; o < hi; ++o)
      slots.push_back(slot0 + o);
    Block &blk = blocks[b];
    if (hi > blk.filled) {
      filledUsed += hi - blk.filled;
      blk.filled = hi;
    }
  }
  s.numTokens = end;
  if (tokens)
    commit(s, tokens, n);
  return okStatus();
}

void BlockAllocator::commit(Seq &s, const int32_t *tokens, int32_t n) {
  if (!prefixCaching) {
    s.numCommitted += n;
    return;
  }
  for (int32_t i = 0; i < n; ++i) {
    int32_t pos = s.numCommitted + i;
    int32_t b = s.blockTable[pos / blkSize];
    blockTokens[static_cast<size_t>(b) * blkSize + pos % blkSize] = tokens[i];
  }
  s.numCommitted += n;
  // Hash every block that became full and known.
  while (static_cast<int32_t>(s.blockHashes.size() + 1) * blkSize <=
         s.numCommitted) {
    size_t idx = s.blockHashes.size();
    int32_t b = s.blockTable[idx];
    uint64_t prev = idx ? s.blockHashes.back() : 0;
    uint64_t h = hashBlock(prev, &blockTokens[static_cast<size_t>(b) * blkSize],
                           blkSize);
    s.blockHashes.push_back(h);
    if (blocks[b].hashed)
      continue;
    // A duplicate of an already cached block stays unhashed.
    if (hashToBlock.insert(h, b)) {
      blocks[b].hashed = true;
      blocks[b].hash = h;
    }
  }
}

Status BlockAllocator::commitTokens(SeqId seq, const int32_t *tokens,
                                    int32_t n) {
  INFER_RETURN_IF_ERROR(checkSeq(seq));
  Seq &s = seqs[seq];
  if (n < 0 || s.numCommitted + n > s.numTokens)
    return invalidArgumentError(
        "commit of " + std::to_string(n) + " tokens, only " +
        std::to_string(s.numTokens - s.numCommitted) + " uncommitted slots");
  if (n > 0 && !tokens)
    return invalidArgumentError("null tokens");
  commit(s, tokens, n);
  return okStatus();
}

Status BlockAllocator::truncate(SeqId seq, int32_t numTokens) {
  INFER_RETURN_IF_ERROR(checkSeq(seq));
  Seq &s = seqs[seq];
  if (numTokens < 0 || numTokens > s.numTokens)
    return invalidArgumentError("truncate to " + std::to_string(numTokens) +
                                " of a sequence of " +
                                std::to_string(s.numTokens) + " tokens");
  size_t keep = static_cast<size_t>(ceilDiv(numTokens, blkSize));
  while (s.blockTable.size() > keep) {
    release(s.blockTable.back());
    s.blockTable.pop_back();
  }
  s.numTokens = numTokens;
  s.numCommitted = std::min(s.numCommitted, numTokens);
  s.blockHashes.resize(
      std::min<size_t>(s.blockHashes.size(), s.numCommitted / blkSize));
  int32_t off = numTokens % blkSize;
  if (off != 0) {
    Block &blk = blocks[s.blockTable.back()];
    if (blk.refCount == 1) {
      // Sole owner: the tail of the block is garbage now.
      if (blk.hashed)
        unregisterHash(s.blockTable.back());
      filledUsed -= blk.filled - off;
      blk.filled = off;
    }
  }
  return okStatus();
}

//===----------------------------------------------------------------------===//
// Stats and invariants
//===----------------------------------------------------------------------===//

double BlockAllocator::waste() const {
  int64_t allocated = static_cast<int64_t>(numUsed) * blkSize;
  if (allocated == 0)
    return 0.0;
  return 1.0 - static_cast<double>(filledUsed) / static_cast<double>(allocated);
}

BlockAllocatorStats BlockAllocator::stats() const {
  BlockAllocatorStats st;
  st.numBlocks = numBlocks();
  st.numUsedBlocks = numUsed;
  st.numFreeBlocks = static_cast<int32_t>(freeList.size());
  st.numCachedBlocks = numCached;
  st.allocatedSlots = static_cast<int64_t>(numUsed) * blkSize;
  st.filledSlots = filledUsed;
  st.waste = waste();
  st.prefixQueryBlocks = prefixQueryBlocks;
  st.prefixHitBlocks = prefixHitBlocks;
  st.numEvictions = numEvictions;
  st.numCowCopies = numCowCopies;
  return st;
}

Status BlockAllocator::checkInvariants() const {
  auto fail = [](const std::string &msg) { return internalError(msg); };
  const int32_t n = numBlocks();
  std::vector<int32_t> refs(n, 0), maxFill(n, 0);
  for (size_t id = 0; id < seqs.size(); ++id) {
    const Seq &s = seqs[id];
    std::string where = "seq " + std::to_string(id) + ": ";
    if (!s.active) {
      if (!s.blockTable.empty())
        return fail(where + "inactive with blocks");
      continue;
    }
    if (static_cast<int32_t>(s.blockTable.size()) !=
        ceilDiv(s.numTokens, blkSize))
      return fail(where + "block table size does not match token count");
    if (s.numCommitted < 0 || s.numCommitted > s.numTokens)
      return fail(where + "bad committed count");
    size_t wantHashes = prefixCaching ? s.numCommitted / blkSize : 0;
    if (s.blockHashes.size() != wantHashes)
      return fail(where + "wrong number of chain hashes");
    for (size_t i = 0; i < s.blockTable.size(); ++i) {
      int32_t b = s.blockTable[i];
      if (b < 0 || b >= n)
        return fail(where + "block id out of range");
      ++refs[b];
      int32_t cnt = std::min<int32_t>(blkSize, s.numTokens - i * blkSize);
      maxFill[b] = std::max(maxFill[b], cnt);
      if (i < s.blockHashes.size()) {
        uint64_t prev = i ? s.blockHashes[i - 1] : 0;
        uint64_t h = hashBlock(
            prev, &blockTokens[static_cast<size_t>(b) * blkSize], blkSize);
        if (h != s.blockHashes[i])
          return fail(where + "block content does not match chain hash");
        if (blocks[b].hashed && blocks[b].hash != h)
          return fail(where + "hashed block in the wrong chain position");
      }
    }
  }

  std::vector<char> where(n, 0); // 1 free, 2 cached.
  for (int32_t b : freeList) {
    if (b < 0 || b >= n || where[b])
      return fail("free list: bad or duplicate block " + std::to_string(b));
    where[b] = 1;
    if (blocks[b].refCount != 0 || blocks[b].hashed)
      return fail("free block " + std::to_string(b) + " in use or hashed");
  }
  int32_t cachedCount = 0;
  for (int32_t b = lruHead, prev = -1; b >= 0; prev = b, b = blocks[b].next) {
    if (b >= n || where[b] || blocks[b].prev != prev || ++cachedCount > n)
      return fail("LRU list corrupt at block " + std::to_string(b));
    where[b] = 2;
    if (blocks[b].refCount != 0 || !blocks[b].hashed)
      return fail("cached block " + std::to_string(b) + " in use or unhashed");
    if (blocks[b].next < 0 && lruTail != b)
      return fail("LRU tail mismatch");
  }
  if (cachedCount != numCached)
    return fail("LRU size mismatch");

  int32_t usedCount = 0;
  int64_t filled = 0;
  for (int32_t b = 0; b < n; ++b) {
    const Block &blk = blocks[b];
    std::string id = "block " + std::to_string(b) + ": ";
    if (blk.refCount != refs[b])
      return fail(id + "refcount " + std::to_string(blk.refCount) + " but " +
                  std::to_string(refs[b]) + " references");
    if (blk.refCount > 0) {
      if (where[b])
        return fail(id + "used and free/cached");
      ++usedCount;
      filled += blk.filled;
      if (blk.filled < maxFill[b] || blk.filled > blkSize)
        return fail(id + "bad fill count");
    } else if (!where[b]) {
      return fail(id + "leaked (unreferenced, neither free nor cached)");
    }
    if (blk.hashed) {
      if (hashToBlock.find(blk.hash) != b)
        return fail(id + "hashed but not in the hash map");
      if (blk.filled != blkSize)
        return fail(id + "hashed but not full");
    }
  }
  if (usedCount != numUsed)
    return fail("used count mismatch");
  if (filled != filledUsed)
    return fail("filled slot count mismatch");
  bool mapOk = true;
  size_t mapCount = 0;
  hashToBlock.forEach([&](uint64_t h, int32_t b) {
    ++mapCount;
    if (b < 0 || b >= n || !blocks[b].hashed || blocks[b].hash != h ||
        hashToBlock.find(h) != b)
      mapOk = false;
  });
  if (!mapOk || mapCount != hashToBlock.size())
    return fail("hash map entry points to a block without that hash");
  if (!prefixCaching && hashToBlock.size() != 0)
    return fail("hashes with prefix caching off");
  return okStatus();
}
