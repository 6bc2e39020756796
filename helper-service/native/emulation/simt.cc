// The CPU emulation of the CUDA execution model (simt.h).
#include "simt.h"

#include <boost/context/fiber.hpp>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace simt {

Dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {

namespace context = boost::context;

constexpr size_t kStackBytes = 256 * 1024;

enum class Op { None, SyncBlock, Shuffle, Mma, Ldmatrix, LdmatrixTrans };

const char* name(Op op) {
  switch (op) {
    case Op::SyncBlock: return "__syncthreads";
    case Op::Shuffle: return "shfl.sync.bfly";
    case Op::Mma: return "mma.sync";
    case Op::Ldmatrix: return "ldmatrix";
    case Op::LdmatrixTrans: return "ldmatrix.trans";
    default: return "nothing";
  }
}

struct Copy {
  unsigned char* dst;
  const unsigned char* src;
  int bytes, validBytes;
};

struct Thread {
  context::fiber fiber;      // the thread, while the scheduler runs
  context::fiber scheduler;  // the scheduler, while the thread runs
  bool done = false;
  Op waitingAt = Op::None;
  std::vector<std::vector<Copy>> copyGroups = std::vector<std::vector<Copy>>(1);  // committed ones, then the open one
  // What the thread brings to the warp instruction it waits at, and what it gets back.
  float value = 0, result = 0;
  int laneMask = 0;
  uint32_t a[4] = {}, b[2] = {}, r[4] = {};
  float c[4] = {};
  const unsigned char* row = nullptr;
};

struct Block {
  std::vector<Thread> threads;
  size_t running = 0;
  std::string error;
};

Block* current = nullptr;
std::vector<unsigned char> shared(kSharedBytes);

// REATCO_SIMT_SCHEDULE, any of: "eager" lands copies when they are issued instead of at the wait
// that lets them; "reverse" runs a block's threads (or warps) last to first; "skew" runs one warp as
// far as it can go before the next (by default all threads take turns, one instruction each). A race
// between warps shows under one schedule or another.
struct Schedule {
  bool eagerCopies = false, reverse = false, skew = false;
};
const Schedule schedule = [] {
  const char* text = std::getenv("REATCO_SIMT_SCHEDULE");
  const std::string modes = text ? text : "";
  auto has = [&](const char* mode) { return modes.find(mode) != std::string::npos; };
  return Schedule{has("eager"), has("reverse"), has("skew")};
}();

Thread& self() { return current->threads[current->running]; }

void yield() {
  Thread& t = self();
  t.scheduler = std::move(t.scheduler).resume();
}

// Stops the launch: the scheduler resumes no thread of the block after this one yields.
[[noreturn]] void fail(const std::string& why) {
  current->error = why;
  for (;;) yield();
}

float toFloat(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}

uint16_t halfOf(uint32_t reg, int i) { return static_cast<uint16_t>(reg >> (16 * i)); }

// Lane l's fragments in the PTX manual's layout for m16n8k16 with f16 inputs and f32 accumulators
// (g = l / 4, t = l % 4): a0 = A[g][2t..2t+1], a1 = A[g+8][2t..], a2 = A[g][2t+8..], a3 = A[g+8][2t+8..];
// b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g]; c0, c1 = C[g][2t], C[g][2t+1]; c2, c3 = C[g+8][2t..].
void completeMma(Thread* lanes) {
  float a[16][16], b[16][8], c[16][8];
  for (int l = 0; l < 32; l++) {
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 2; i++) {
      a[g][2 * t + i] = toFloat(halfOf(lanes[l].a[0], i));
      a[g + 8][2 * t + i] = toFloat(halfOf(lanes[l].a[1], i));
      a[g][2 * t + 8 + i] = toFloat(halfOf(lanes[l].a[2], i));
      a[g + 8][2 * t + 8 + i] = toFloat(halfOf(lanes[l].a[3], i));
      b[2 * t + i][g] = toFloat(halfOf(lanes[l].b[0], i));
      b[2 * t + 8 + i][g] = toFloat(halfOf(lanes[l].b[1], i));
      c[g][2 * t + i] = lanes[l].c[i];
      c[g + 8][2 * t + i] = lanes[l].c[2 + i];
    }
  }
  for (int l = 0; l < 32; l++) {
    const int g = l / 4, t = l % 4;
    for (int e = 0; e < 4; e++) {
      const int row = g + 8 * (e / 2), col = 2 * t + e % 2;
      float sum = c[row][col];
      for (int k = 0; k < 16; k++) sum += a[row][k] * b[k][col];
      lanes[l].c[e] = sum;
    }
  }
}

// Lanes 8j..8j+7 point at rows 0..7 of matrix j (8 halves each); lane l gets, of matrix j,
// M[l/4][2(l%4)..2(l%4)+1], or with trans M[2(l%4)][l/4] and M[2(l%4)+1][l/4].
void completeLdmatrix(Thread* lanes, bool transpose) {
  auto element = [&](int matrix, int row, int col) {
    uint16_t bits;
    std::memcpy(&bits, lanes[8 * matrix + row].row + 2 * col, 2);
    return uint32_t(bits);
  };
  for (int l = 0; l < 32; l++) {
    for (int j = 0; j < 4; j++) {
      const int fixed = l / 4, first = 2 * (l % 4);
      lanes[l].r[j] = transpose ? element(j, first, fixed) | element(j, first + 1, fixed) << 16
                                : element(j, fixed, first) | element(j, fixed, first + 1) << 16;
    }
  }
}

void complete(Op op, Thread* lanes) {
  if (op == Op::Mma) completeMma(lanes);
  if (op == Op::Ldmatrix || op == Op::LdmatrixTrans) completeLdmatrix(lanes, op == Op::LdmatrixTrans);
  if (op == Op::Shuffle) {
    for (int l = 0; l < 32; l++) {
      if (lanes[l].laneMask != lanes[0].laneMask) fail("shfl.sync.bfly: the lanes of a warp give different lane masks");
      lanes[l].result = lanes[l ^ lanes[l].laneMask].value;
    }
  }
}

// The thread waits at `op` until the threads it concerns (its warp's, or the block's) are all there;
// the last to arrive completes it for all.
void arrive(Op op) {
  Thread& t = self();
  const size_t warp = current->running / 32 * 32;
  const bool block = op == Op::SyncBlock;
  const size_t first = block ? 0 : warp, count = block ? current->threads.size() : 32;
  Thread* group = &current->threads[first];
  t.waitingAt = op;
  size_t arrived = 0;
  for (size_t i = first; i < first + count; i++) {
    const Thread& other = current->threads[i];
    if (other.done) fail(std::string(name(op)) + ": thread " + std::to_string(i) + " has returned while others wait for it");
    if (other.waitingAt == Op::None) continue;
    // The lanes of a warp meet at one instruction; other warps may wait at theirs.
    if (i >= warp && i < warp + 32 && other.waitingAt != op) {
      fail(std::string("the lanes of warp ") + std::to_string(warp / 32) + " diverge: one at " + name(op) + ", another at " + name(other.waitingAt));
    }
    arrived += other.waitingAt == op;
  }
  if (arrived < count) {
    yield();
    return;
  }
  complete(op, group);
  for (size_t i = 0; i < count; i++) group[i].waitingAt = Op::None;
}

void perform(const std::vector<Copy>& copies) {
  for (const Copy& c : copies) {
    std::memcpy(c.dst, c.src, c.validBytes);
    std::memset(c.dst + c.validBytes, 0, c.bytes - c.validBytes);
  }
}

// What the threads of a block that cannot go on are waiting at, e.g. "deadlock: 32 threads wait at
// __syncthreads, 32 have returned".
std::string deadlock(const Block& block) {
  std::string why = "deadlock:";
  for (Op op : {Op::SyncBlock, Op::Shuffle, Op::Mma, Op::Ldmatrix, Op::LdmatrixTrans}) {
    size_t n = 0;
    for (const Thread& t : block.threads) n += !t.done && t.waitingAt == op;
    if (n) why += (why.back() == ':' ? " " : ", ") + std::to_string(n) + " threads wait at " + name(op);
  }
  size_t done = 0;
  for (const Thread& t : block.threads) done += t.done;
  return done ? why + ", " + std::to_string(done) + " have returned" : why;
}

// Runs one block to its end; why it failed, or nothing.
std::string runBlock(unsigned threads, const std::function<void()>& body) {
  Block block;
  block.threads.resize(threads);
  current = &block;
  // Shared memory starts as fp16 NaNs: a read of memory nothing wrote shows in the results.
  std::memset(shared.data(), 0xff, shared.size());
  for (Thread& t : block.threads) {
    t.fiber = context::fiber(std::allocator_arg, context::fixedsize_stack(kStackBytes), [&body](context::fiber&& scheduler) {
      self().scheduler = std::move(scheduler);
      body();
      Thread& me = self();
      me.done = true;
      return std::move(me.scheduler);
    });
  }
  // Resumes thread i until its next barrier or warp instruction, if it can run; whether it did.
  auto step = [&](unsigned i) {
    const Thread& t = block.threads[i];
    if (t.done || t.waitingAt != Op::None || !block.error.empty()) return false;
    block.running = i;
    threadIdx = {i % blockDim.x, i / blockDim.x % blockDim.y, i / (blockDim.x * blockDim.y)};
    block.threads[i].fiber = std::move(block.threads[i].fiber).resume();
    return true;
  };
  // A turn: each thread that can run takes a step; skewed, only those of the first warp that can.
  const unsigned width = schedule.skew ? 32 : 1, units = threads / width;
  for (;;) {
    bool ran = false;
    for (unsigned n = 0; n < units && !(schedule.skew && ran); n++) {
      const unsigned unit = schedule.reverse ? units - 1 - n : n;
      for (unsigned i = unit * width; i < (unit + 1) * width; i++) ran |= step(i);
    }
    if (!block.error.empty()) break;
    if (!ran) {
      bool finished = true;
      for (const Thread& t : block.threads) finished &= t.done;
      if (!finished) block.error = deadlock(block);
      break;
    }
  }
  current = nullptr;
  return block.error;
}

}  // namespace

unsigned char* sharedMemory() { return shared.data(); }

void syncBlock() { arrive(Op::SyncBlock); }

float shuffleXor(float value, int laneMask) {
  Thread& t = self();
  t.value = value;
  t.laneMask = laneMask;
  arrive(Op::Shuffle);
  return t.result;
}

void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  Thread& t = self();
  std::memcpy(t.a, a, sizeof t.a);
  t.b[0] = b0;
  t.b[1] = b1;
  std::memcpy(t.c, d, sizeof t.c);
  arrive(Op::Mma);
  std::memcpy(d, t.c, sizeof t.c);
}

void ldmatrixX4(uint32_t (&r)[4], const void* row, bool transpose) {
  Thread& t = self();
  t.row = static_cast<const unsigned char*>(row);
  arrive(transpose ? Op::LdmatrixTrans : Op::Ldmatrix);
  std::memcpy(r, t.r, sizeof t.r);
}

void copyAsync(void* dst, const void* src, int bytes, int validBytes) {
  const Copy copy{static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), bytes, validBytes};
  if (schedule.eagerCopies) perform({copy});
  else self().copyGroups.back().push_back(copy);
}

void commitCopies() { self().copyGroups.emplace_back(); }

void waitForCopies(int pending) {
  auto& groups = self().copyGroups;
  while (groups.size() - 1 > size_t(pending)) {
    perform(groups.front());
    groups.erase(groups.begin());
  }
}

const char* launch(Dim3 grid, Dim3 block, size_t sharedBytes, const std::function<void()>& thread) {
  static std::string error;  // the message returned lives until the next launch
  const unsigned threads = block.x * block.y * block.z;
  if (sharedBytes > kSharedBytes) return "too much shared memory for a block";
  if (threads == 0 || threads % 32 != 0) return "the emulation runs blocks of whole warps only";
  gridDim = grid;
  blockDim = block;
  for (unsigned z = 0; z < grid.z; z++) {
    for (unsigned y = 0; y < grid.y; y++) {
      for (unsigned x = 0; x < grid.x; x++) {
        blockIdx = {x, y, z};
        error = runBlock(threads, thread);
        if (!error.empty()) return error.c_str();
      }
    }
  }
  return nullptr;
}

}  // namespace simt
