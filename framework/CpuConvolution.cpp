// The CPU backend's convolution kernels (declared in Backend.hpp, namespace cpu): the sparse scatter
// Phi a, the dense gather Phi^T e, the Hebbian term and the L2 normalisation. Compiled with
// -ffp-contract=fast (multiply-adds fuse; fixed at compile time, so results stay deterministic).
#include "framework/Backend.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace laminar {

namespace cpu {

namespace {
// Eight floats as one value (GCC/Clang vector extension), loaded and stored unaligned.
using v8 = float __attribute__((vector_size(32), aligned(4)));

struct Active {
  int cx, k;
  float a;
};
// Range of coarse indices c whose patch covers fine index y: c*s + o <= y < c*s + o + p.
inline void covering(int y, int s, int o, int p, int n_coarse, int& c0, int& c1) {
  // c >= (y - o - p + 1) / s (ceil), c <= (y - o) / s (floor)
  int lo = y - o - p + 1, hi = y - o;
  c0 = lo <= 0 ? -((-lo) / s) : (lo + s - 1) / s;
  c1 = hi >= 0 ? hi / s : -((-hi + s - 1) / s);
  c0 = std::max(c0, 0);
  c1 = std::min(c1, n_coarse - 1);
}
// Where patches reach outside the fine grid: the padding on each side.
struct Padding {
  int top, left, ny, nx;  // padded grid size ny x nx
};
Padding padding(const ConvShape& s) {
  Padding p;
  p.top = std::max(0, -s.offset_y);
  p.left = std::max(0, -s.offset_x);
  const int bottom = std::max(0, (s.coarse.ny - 1) * s.stride_y + s.offset_y + s.patch_y - s.fine.ny);
  const int right = std::max(0, (s.coarse.nx - 1) * s.stride_x + s.offset_x + s.patch_x - s.fine.nx);
  p.ny = s.fine.ny + p.top + bottom;
  p.nx = s.fine.nx + p.left + right;
  return p;
}
// out[0, len) += sum over the actives q (in order, summed in registers first) of a_q w_q[0, len), where
// w_q = w + k_q * ksize: one position's actives applied to a piece of its patch row.
#if defined(__AVX512F__)
template <int NV>
inline void add_actives_16(float* out, int len, const Active* q, int n, const float* w, std::size_t ksize) {
  // NV vectors of 16; the last one masked to the values left.
  const __mmask16 last = __mmask16((1u << (len - 16 * (NV - 1))) - 1u) | __mmask16(len - 16 * (NV - 1) == 16 ? 0xFFFF : 0);
  __m512 t[NV];
  for (int v = 0; v < NV; ++v) t[v] = _mm512_setzero_ps();
  for (int i = 0; i < n; ++i) {
    const __m512 a = _mm512_set1_ps(q[i].a);
    const float* wq = w + std::size_t(q[i].k) * ksize;
    for (int v = 0; v + 1 < NV; ++v) t[v] = _mm512_fmadd_ps(a, _mm512_loadu_ps(wq + 16 * v), t[v]);
    t[NV - 1] = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(last, wq + 16 * (NV - 1)), t[NV - 1]);
  }
  for (int v = 0; v + 1 < NV; ++v) _mm512_storeu_ps(out + 16 * v, _mm512_add_ps(_mm512_loadu_ps(out + 16 * v), t[v]));
  float* o = out + 16 * (NV - 1);
  _mm512_mask_storeu_ps(o, last, _mm512_add_ps(_mm512_maskz_loadu_ps(last, o), t[NV - 1]));
}
constexpr int kScatterGroup = 128;  // values per register group: 8 vectors of 16
inline void add_actives(float* out, int len, const Active* q, int n, const float* w, std::size_t ksize) {
  for (int j = 0; j < len; j += kScatterGroup) {
    const int m = std::min(kScatterGroup, len - j);
    switch ((m + 15) / 16) {
      case 1: add_actives_16<1>(out + j, m, q, n, w + j, ksize); break;
      case 2: add_actives_16<2>(out + j, m, q, n, w + j, ksize); break;
      case 3: add_actives_16<3>(out + j, m, q, n, w + j, ksize); break;
      case 4: add_actives_16<4>(out + j, m, q, n, w + j, ksize); break;
      case 5: add_actives_16<5>(out + j, m, q, n, w + j, ksize); break;
      case 6: add_actives_16<6>(out + j, m, q, n, w + j, ksize); break;
      case 7: add_actives_16<7>(out + j, m, q, n, w + j, ksize); break;
      default: add_actives_16<8>(out + j, m, q, n, w + j, ksize); break;
    }
  }
}
#else
constexpr int kScatterGroup = 64;
inline void add_actives(float* out, int len, const Active* q, int n, const float* w, std::size_t ksize) {
  int j = 0;
  for (; j + 8 <= len; j += 8) {
    v8 t{};
    for (int i = 0; i < n; ++i) t += q[i].a * *reinterpret_cast<const v8*>(w + q[i].k * ksize + j);
    *reinterpret_cast<v8*>(out + j) += t;
  }
  for (; j < len; ++j) {
    float t = 0.0f;
    for (int i = 0; i < n; ++i) t += q[i].a * w[q[i].k * ksize + j];
    out[j] += t;
  }
}
#endif
}  // namespace

void deliver_scatter(const ConvShape& s, const float* w, const Tensor& coarse, Tensor& fine, float scale) {
  const int B = coarse.batch(), ncy = s.coarse.ny, ncx = s.coarse.nx, nk = s.coarse.nf;
  const int nfy = s.fine.ny, nfx = s.fine.nx, nff = s.fine.nf;
  const Padding pad = padding(s);
  // Active (nonzero) coarse neurons, listed per coarse row (b, cy) in a reused buffer: row r's
  // list starts at r * ncx * nk and holds count[r] entries, in (cx, k) order.
  static thread_local std::vector<Active> lists;
  static thread_local std::vector<int> count;
  const std::size_t per_row = std::size_t(ncx) * nk;
  if (lists.size() < per_row * B * ncy) lists.resize(per_row * B * ncy);
  count.assign(std::size_t(B) * ncy, 0);
  Active* const all = lists.data();
  int* const counts = count.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int cy = 0; cy < ncy; ++cy) {
      const std::size_t r = std::size_t(b) * ncy + cy;
      Active* list = all + r * per_row;
      const float* a = coarse.data() + r * per_row;
      // Nonzero test 32 values at a time (vectorised compare into a bit mask), then one entry
      // per set bit: activity is sparse and irregular, so per-element branches mispredict.
      // Position by position (cx known, k = offset in the position: no division per active).
      int n = 0;
      for (int cx = 0; cx < ncx; ++cx) {
        const float* ap = a + std::size_t(cx) * nk;
        for (int base = 0; base < nk; base += 32) {
          const int m = std::min(32, nk - base);
          std::uint32_t mask = 0;
          if (m == 32) {
            for (int t = 0; t < 32; ++t) mask |= std::uint32_t(ap[base + t] != 0.0f) << t;
          } else {
            for (int t = 0; t < m; ++t) mask |= std::uint32_t(ap[base + t] != 0.0f) << t;
          }
          while (mask) {
            const int k = base + std::countr_zero(mask);
            mask &= mask - 1;
            list[n++] = {cx, k, ap[k] * scale};
          }
        }
      }
      counts[r] = n;
    }
  const std::size_t ksize = s.kernel_size();
  const int row_len = s.patch_x * nff;
  const std::size_t row_buf = std::size_t(pad.nx) * nff;
  // Patches that do not overlap along x (stride_x >= patch_x: full-field and other tiling kernels):
  // every fine value gets at most one position's contribution per coarse row, so the patch row can be
  // cut into pieces that are done for every batch element in turn while those weights are in cache.
  const bool tiling = s.patch_x <= s.stride_x;
  const int piece = tiling ? kScatterGroup : row_len;
  // Each unit of work is a fine row y for a block of batch elements (every element where there are
  // enough rows for the threads, so a row's weights serve the whole batch; fewer elements per block
  // where the layer has few rows, e.g. a 1x1 joint layer's reconstruction). Units never share a fine
  // value, so writes never collide and the sum order is fixed: every fine value receives the sum over
  // the covering coarse rows (cy ascending) of each covering position's contributions (cx ascending;
  // each summed over its actives in list order in registers, then added once), accumulated in a zeroed
  // row buffer with horizontal padding. Whatever the thread count, the same values.
  const int T = omp_get_max_threads();
  const int blocks = std::clamp((2 * T + nfy - 1) / nfy, 1, B);
  const int per_block = (B + blocks - 1) / blocks;
  const int units = nfy * blocks;
  // Row buffers per thread, allocated here (an allocation failure is then an exception, not a
  // termination inside the parallel region).
  std::vector<std::vector<float>> rowbufs(std::size_t(T), std::vector<float>(row_buf * per_block));
#pragma omp parallel num_threads(T)
  {
    std::vector<float>& rowbuf = rowbufs[std::size_t(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (int u = 0; u < units; ++u) {
      const int y = u / blocks, b0 = (u % blocks) * per_block, b1 = std::min(B, b0 + per_block);
      if (b0 >= b1) continue;
      std::fill(rowbuf.begin(), rowbuf.end(), 0.0f);
      int c0, c1;
      covering(y, s.stride_y, s.offset_y, s.patch_y, ncy, c0, c1);
      for (int cy = c0; cy <= c1; ++cy) {
        const float* wpy = w + std::ptrdiff_t(y - (cy * s.stride_y + s.offset_y)) * row_len;
        for (int j0 = 0; j0 < row_len; j0 += piece) {
          const int len = std::min(piece, row_len - j0);
          for (int b = b0; b < b1; ++b) {
            const std::size_t r = std::size_t(b) * ncy + cy;
            const Active* list = all + r * per_row;
            float* acc = rowbuf.data() + std::size_t(b - b0) * row_buf;
            for (int i = 0, n = counts[r]; i < n;) {
              const int cx = list[i].cx;
              int end = i + 1;
              while (end < n && list[end].cx == cx) ++end;
              float* out = acc + std::ptrdiff_t(cx * s.stride_x + s.offset_x + pad.left) * nff + j0;
              add_actives(out, len, list + i, end - i, wpy + j0, ksize);
              i = end;
            }
          }
        }
      }
      for (int b = b0; b < b1; ++b) {
        float* out = fine.data() + ((std::size_t(b) * nfy + y) * nfx) * nff;
        const float* in = rowbuf.data() + std::size_t(b - b0) * row_buf + std::ptrdiff_t(pad.left) * nff;
#pragma omp simd
        for (int j = 0; j < nfx * nff; ++j) out[j] += in[j];
      }
    }
  }
}

namespace {
// The gather's register tile: kRows coarse positions x kBlock kernels of accumulators. With AVX-512
// (32 vector registers of 16 floats) 8 x 32 = 16 accumulators; with AVX2 (16 registers of 8) 6 x 16.
#if defined(__AVX512F__)
using vec = float __attribute__((vector_size(64), aligned(4)));
constexpr int kLanes = 16, kRows = 8;
#else
using vec = float __attribute__((vector_size(32), aligned(4)));
constexpr int kLanes = 8, kRows = 6;
#endif
constexpr int kBlock = 2 * kLanes;
// Patch rows per pass over a panel: about 256 KiB of weights, so that a pass stays in the L2 cache
// while every position of a group of tiles streams through it.
constexpr std::size_t kPanelBytes = 256 * 1024;
constexpr int kTilesPerGroup = 64;
}  // namespace

int gather_block() { return kBlock; }

void transpose_weights(const ConvShape& s, const float* w, std::vector<float>& wt) {
  // Packed panels: kernels in blocks of kBlock (the last one zero-padded), each block stored
  // [j][kBlock] over the patch index j = (py, px, f), so the gather streams it contiguously.
  const int nk = s.kernels(), nkb = (nk + kBlock - 1) / kBlock;
  const std::size_t ksize = s.kernel_size();
  wt.assign(std::size_t(nkb) * ksize * kBlock, 0.0f);
#pragma omp parallel for schedule(static) if (wt.size() >= std::size_t(1 << 15))
  for (int k = 0; k < nk; ++k) {
    float* panel = wt.data() + std::size_t(k / kBlock) * ksize * kBlock + k % kBlock;
    for (std::size_t j = 0; j < ksize; ++j) panel[j * kBlock] = w[k * ksize + j];
  }
}

namespace {
// P positions (their patches' first values at x[i]; patch row r at + r * prow) x kBlock kernels, over
// patch rows [0, rows) of this pass: acc[i][.] += sum_{r, q} x[i][r prow + q] w[(r, q)][.], q ascending
// within r ascending, so each output's sum has the same order whatever the passes and threads. The
// partial sums are kept in `part` between passes; the last pass adds scale * sum to out[i][0, nvalid).
template <int P, int H>
void gather_tile(const float* const* x, std::ptrdiff_t prow, int rows, int row_len, const float* w, float* part,
                 bool first, bool last, float* const* out, int nvalid, float scale) {
  // H = 2: the whole panel of kBlock kernels; H = 1: a last panel with at most kLanes valid kernels (its
  // zero-padded half is skipped). Each output's sum is the same either way.
  vec acc[P][H];
  for (int i = 0; i < P; ++i)
    for (int h = 0; h < H; ++h) acc[i][h] = first ? vec{} : *reinterpret_cast<const vec*>(part + i * kBlock + h * kLanes);
  for (int r = 0; r < rows; ++r) {
    const float* xr[P];
    for (int i = 0; i < P; ++i) xr[i] = x[i] + r * prow;
    for (int q = 0; q < row_len; ++q, w += kBlock) {
      vec wv[H];
      for (int h = 0; h < H; ++h) wv[h] = *reinterpret_cast<const vec*>(w + h * kLanes);
      for (int i = 0; i < P; ++i) {
        const float v = xr[i][q];
        for (int h = 0; h < H; ++h) acc[i][h] += v * wv[h];
      }
    }
  }
  if (!last) {
    for (int i = 0; i < P; ++i)
      for (int h = 0; h < H; ++h) *reinterpret_cast<vec*>(part + i * kBlock + h * kLanes) = acc[i][h];
    return;
  }
  for (int i = 0; i < P; ++i) {
    float* o = out[i];
    if (nvalid == H * kLanes) {
      for (int h = 0; h < H; ++h) *reinterpret_cast<vec*>(o + h * kLanes) += scale * acc[i][h];
    } else {
      for (int k = 0; k < nvalid; ++k) o[k] += scale * acc[i][k / kLanes][k % kLanes];
    }
  }
}

using TileFn = void (*)(const float* const*, std::ptrdiff_t, int, int, const float*, float*, bool, bool, float* const*,
                        int, float);
template <int H, int... P>
constexpr std::array<TileFn, sizeof...(P) + 1> tile_table(std::integer_sequence<int, P...>) {
  return {nullptr, &gather_tile<P + 1, H>...};
}
constexpr auto kTiles = tile_table<2>(std::make_integer_sequence<int, kRows>{});
constexpr auto kHalfTiles = tile_table<1>(std::make_integer_sequence<int, kRows>{});
}  // namespace

void deliver_gather(const ConvShape& s, const float* wt, const Tensor& fine, Tensor& coarse, float scale) {
  const int B = fine.batch(), ncy = s.coarse.ny, ncx = s.coarse.nx, nk = s.coarse.nf;
  const int nfy = s.fine.ny, nfx = s.fine.nx, nff = s.fine.nf;
  const Padding pad = padding(s);
  // Where patches reach outside the layer, a zero-padded copy of the fine input: every patch then lies
  // inside it (no bounds tests). Full-field and other inner patches read the input itself.
  const bool padded_copy = pad.ny != nfy || pad.nx != nfx;
  static thread_local std::vector<float> padded;
  const float* src = fine.data();
  if (padded_copy) {
    // (This thread's reused buffer; the worker threads write it through the pointer.)
    padded.assign(std::size_t(B) * pad.ny * pad.nx * nff, 0.0f);
    float* const dst = padded.data();
    const std::ptrdiff_t prow = std::ptrdiff_t(pad.nx) * nff;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; ++b)
      for (int y = 0; y < nfy; ++y)
        std::copy_n(fine.data() + ((std::size_t(b) * nfy + y) * nfx) * nff, std::size_t(nfx) * nff,
                    dst + (std::size_t(b) * pad.ny + y + pad.top) * prow + std::ptrdiff_t(pad.left) * nff);
    src = dst;
  }
  const std::ptrdiff_t prow = std::ptrdiff_t(pad.nx) * nff;
  const int row_len = s.patch_x * nff;
  const std::size_t ksize = s.kernel_size();
  // A GEMM over M = batch x coarse positions (rows: patches read in place) and the kernels (columns:
  // the packed panels), in tiles of kRows positions x kBlock kernels; the batch is part of M, so each
  // panel pass serves every batch element (full-field joint layers: M = batch).
  const long M = long(B) * ncy * ncx;
  const int nkb = (nk + kBlock - 1) / kBlock;
  const long nmt = (M + kRows - 1) / kRows;
  const int rows_per_pass =
      std::max(1, int(kPanelBytes / (std::size_t(row_len) * kBlock * sizeof(float))));
  auto position = [&](long m) {
    const int cx = int(m % ncx), cy = int((m / ncx) % ncy), b = int(m / (long(ncx) * ncy));
    return src + (std::size_t(b) * pad.ny + cy * s.stride_y + s.offset_y + pad.top) * prow +
           std::ptrdiff_t(cx * s.stride_x + s.offset_x + pad.left) * nff;
  };
  // Work units: (kernel block, group of up to kTilesPerGroup tiles). Ordered by kernel block when the
  // input is the smaller thing to read again for every block (full-field joint dictionaries: large
  // weights, a few positions), else by group, every block of a group while its inputs are cached (small
  // dictionaries over many positions). Each thread takes a contiguous range of units; either way every
  // output is computed by one thread in one fixed order, whatever the thread count.
  const int T = omp_get_max_threads();
  const long group = std::clamp<long>(nmt * nkb / (4L * T), 1, kTilesPerGroup);
  const long ngroups = (nmt + group - 1) / group;
  const double in_bytes = double(padded_copy ? padded.size() : fine.size()) * sizeof(float);
  const double w_bytes = double(nkb) * ksize * kBlock * sizeof(float);
  // By block, the outputs are read and written once per block (in pieces of kBlock floats of each
  // position's nk, a cache line or two each), and so is the input; by group, the weights are read
  // once per group while the group's outputs and inputs stay cached.
  const double out_bytes = double(M) * nk * sizeof(float);
  const bool by_group = double(ngroups) * w_bytes < double(nkb) * in_bytes + (nkb > 1 ? 2.0 * out_bytes : 0.0);
  // One pass over the patch rows (the usual case) and ordered by group: each tile does every kernel
  // block in turn, so that its positions' outputs (nk contiguous floats each) are written whole, tile
  // after tile, in address order (the hardware prefetchers follow; block after block, each tile's
  // outputs are 8 lines a page or more apart, which no prefetcher follows), while the group's inputs
  // stay in the L1 cache and the packed weights (nkb panels) in the L2 cache.
  const bool tile_major = by_group && rows_per_pass >= s.patch_y && nkb > 1;
  const long units = tile_major ? ngroups : long(nkb) * ngroups;
  float* const dst = coarse.data();
  std::vector<std::vector<float>> parts(std::size_t(T), std::vector<float>(std::size_t(group) * kRows * kBlock));
#pragma omp parallel num_threads(T)
  {
    std::vector<float>& part = parts[std::size_t(omp_get_thread_num())];
    // Tile `tile`'s positions x kernel block kb over patch rows [r0, r0 + rows).
    auto run_tile = [&](long tile, int kb, int r0, int rows, float* tile_part) {
      const long m0 = tile * kRows;
      const int P = int(std::min<long>(kRows, M - m0));
      const int k0 = kb * kBlock, nvalid = std::min(kBlock, nk - k0);
      const float* wpass = wt + std::size_t(kb) * ksize * kBlock + std::size_t(r0) * row_len * kBlock;
      const float* x[kRows];
      float* out[kRows];
      for (int i = 0; i < P; ++i) {
        x[i] = position(m0 + i) + r0 * prow;
        out[i] = dst + std::size_t(m0 + i) * nk + k0;
      }
      (nvalid <= kLanes ? kHalfTiles : kTiles)[P](x, prow, rows, row_len, wpass, tile_part, r0 == 0,
                                                  r0 + rows >= s.patch_y, out, nvalid, scale);
    };
#pragma omp for schedule(static)
    for (long u = 0; u < units; ++u) {
      if (tile_major) {
        const long g0 = u * group, g1 = std::min(nmt, g0 + group);
        for (long tile = g0; tile < g1; ++tile) {
          // The outputs two tiles ahead into the cache meanwhile (the tiles add to them).
          const long ahead = (tile + 2) * kRows;
          if (ahead < M) {
            const float* p0 = dst + std::size_t(ahead) * nk;
            const std::size_t n = std::size_t(std::min<long>(kRows, M - ahead)) * nk;
            for (std::size_t j = 0; j < n; j += 64 / sizeof(float)) __builtin_prefetch(p0 + j, 1, 3);
          }
          for (int kb = 0; kb < nkb; ++kb) run_tile(tile, kb, 0, s.patch_y, part.data());
        }
        continue;
      }
      const int kb = int(by_group ? u % nkb : u / ngroups);
      const long g = by_group ? u / nkb : u % ngroups;
      const long g0 = g * group, g1 = std::min(nmt, g0 + group);
      for (int r0 = 0; r0 < s.patch_y; r0 += rows_per_pass) {
        const int rows = std::min(rows_per_pass, s.patch_y - r0);
        for (long tile = g0; tile < g1; ++tile)
          run_tile(tile, kb, r0, rows, part.data() + std::size_t(tile - g0) * kRows * kBlock);
      }
    }
  }
}

void hebbian(const ConvShape& s, const Tensor& coarse, const Tensor& fine, float* dw, float scale) {
  const int B = coarse.batch(), ncy = s.coarse.ny, ncx = s.coarse.nx, nk = s.coarse.nf;
  const int nfy = s.fine.ny, nfx = s.fine.nx, nff = s.fine.nf;
  const std::size_t ksize = s.kernel_size(), rowsize = std::size_t(s.patch_x) * nff;
  // One thread per kernel: each dW[k] is summed in the fixed order (b, cy, cx).
#pragma omp parallel for schedule(dynamic, 1)
  for (int k = 0; k < nk; ++k) {
    float* dk = dw + k * ksize;
    for (int b = 0; b < B; ++b)
      for (int cy = 0; cy < ncy; ++cy)
        for (int cx = 0; cx < ncx; ++cx) {
          const float a = coarse.data()[((std::size_t(b) * ncy + cy) * ncx + cx) * nk + k];
          if (a == 0.0f) continue;
          const float sa = scale * a;
          const int x0 = cx * s.stride_x + s.offset_x;
          const int px0 = std::max(0, -x0), px1 = std::min(s.patch_x, nfx - x0);
          for (int py = 0; py < s.patch_y; ++py) {
            const int y = cy * s.stride_y + s.offset_y + py;
            if (y < 0 || y >= nfy) continue;
            const float* in = fine.data() + ((std::size_t(b) * nfy + y) * nfx) * nff;
            const std::ptrdiff_t base = std::ptrdiff_t(x0) * nff;
            float* d = dk + py * rowsize;
#pragma omp simd
            for (int j = px0 * nff; j < px1 * nff; ++j) d[j] += sa * in[base + j];
          }
        }
  }
}

void normalize_l2(const ConvShape& s, float* w, float strength) {
  const std::size_t ksize = s.kernel_size();
  // One thread per kernel: each kernel's norm is the same serial sum whatever the thread count.
#pragma omp parallel for schedule(static) if (s.weights_size() >= std::size_t(1 << 15))
  for (int k = 0; k < s.kernels(); ++k) {
    float* kw = w + k * ksize;
    double sum = 0.0;
    for (std::size_t j = 0; j < ksize; ++j) sum += double(kw[j]) * kw[j];
    if (sum <= 0.0) continue;
    const float f = float(strength / std::sqrt(sum));
    for (std::size_t j = 0; j < ksize; ++j) kw[j] *= f;
  }
}

}  // namespace cpu
}  // namespace laminar
