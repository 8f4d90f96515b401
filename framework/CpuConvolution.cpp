// The CPU backend's convolution kernels (declared in Backend.hpp, namespace cpu): the sparse scatter
// Phi a, the dense gather Phi^T e, the Hebbian term and the L2 normalisation. Compiled with
// -ffp-contract=fast (multiply-adds fuse; fixed at compile time, so results stay deterministic).
#include "framework/Backend.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

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
      const int len = ncx * nk;
      int n = 0;
      for (int base = 0; base < len; base += 32) {
        const int m = std::min(32, len - base);
        std::uint32_t mask = 0;
        if (m == 32) {
          for (int t = 0; t < 32; ++t) mask |= std::uint32_t(a[base + t] != 0.0f) << t;
        } else {
          for (int t = 0; t < m; ++t) mask |= std::uint32_t(a[base + t] != 0.0f) << t;
        }
        while (mask) {
          const int idx = base + std::countr_zero(mask);
          mask &= mask - 1;
          list[n++] = {idx / nk, idx % nk, a[idx] * scale};
        }
      }
      counts[r] = n;
    }
  const std::size_t ksize = s.kernel_size();
  const int row_len = s.patch_x * nff;
  const std::ptrdiff_t rowsize = row_len;
  // Each thread owns whole fine rows, so writes never collide and the sum order is fixed: every
  // fine value receives the sum (over covering coarse rows cy ascending, then (cx, k)) of its
  // contributions, accumulated in a zeroed row with horizontal padding, then added once.
#pragma omp parallel
  {
    std::vector<float> rowbuf(std::size_t(pad.nx) * nff);
    float* const acc = rowbuf.data();
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; ++b)
      for (int y = 0; y < nfy; ++y) {
        std::fill(rowbuf.begin(), rowbuf.end(), 0.0f);
        int c0, c1;
        covering(y, s.stride_y, s.offset_y, s.patch_y, ncy, c0, c1);
        for (int cy = c0; cy <= c1; ++cy) {
          const int py = y - (cy * s.stride_y + s.offset_y);
          const std::size_t r = std::size_t(b) * ncy + cy;
          const Active* list = all + r * per_row;
          const float* wpy = w + py * rowsize;
          // Actives of one position cx (consecutive in the list) are summed in registers, 8 values
          // of the patch row at a time, then added to the row once: one store per position.
          for (int i = 0, n = counts[r]; i < n;) {
            const int cx = list[i].cx;
            int end = i + 1;
            while (end < n && list[end].cx == cx) ++end;
            float* out = acc + std::ptrdiff_t(cx * s.stride_x + s.offset_x + pad.left) * nff;
            int j = 0;
            for (; j + 8 <= row_len; j += 8) {
              v8 t{};
              for (int q = i; q < end; ++q) t += list[q].a * *reinterpret_cast<const v8*>(wpy + list[q].k * ksize + j);
              *reinterpret_cast<v8*>(out + j) += t;
            }
            for (; j < row_len; ++j) {
              float t = 0.0f;
              for (int q = i; q < end; ++q) t += list[q].a * wpy[list[q].k * ksize + j];
              out[j] += t;
            }
            i = end;
          }
        }
        float* out = fine.data() + ((std::size_t(b) * nfy + y) * nfx) * nff;
        const float* in = acc + std::ptrdiff_t(pad.left) * nff;
#pragma omp simd
        for (int j = 0; j < nfx * nff; ++j) out[j] += in[j];
      }
  }
}

void transpose_weights(const ConvShape& s, const float* w, std::vector<float>& wt) {
  const int nk = s.kernels();
  const std::size_t ksize = s.kernel_size();
  wt.resize(ksize * nk);
  for (int k = 0; k < nk; ++k)
    for (std::size_t j = 0; j < ksize; ++j) wt[j * nk + k] = w[k * ksize + j];
}

namespace {
// Gather microkernel: P consecutive coarse positions x 16 kernels held in registers while the
// 16-kernel slice of the transposed weights [py][px][f][k] streams through; the fine input is
// zero-padded so that every patch lies inside it (no bounds tests, no zero tests). Each output
// element is summed over (py, px, f) in ascending order, the same whatever the thread count.

template <int P>
inline void gather_block16(const float* in, std::ptrdiff_t step, int rows, std::ptrdiff_t row_stride, int row_len,
                           const float* wt, std::ptrdiff_t wrow, int nk, float* out, float scale) {
  v8 acc[P][2];
  for (int i = 0; i < P; ++i) acc[i][0] = acc[i][1] = v8{};
  for (int r = 0; r < rows; ++r) {
    const float* x = in + r * row_stride;
    const float* w = wt + r * wrow;
    for (int j = 0; j < row_len; ++j, w += nk) {
      const v8 w0 = *reinterpret_cast<const v8*>(w), w1 = *reinterpret_cast<const v8*>(w + 8);
      for (int i = 0; i < P; ++i) {
        const float v = x[i * step + j];
        acc[i][0] += v * w0;
        acc[i][1] += v * w1;
      }
    }
  }
  for (int i = 0; i < P; ++i)
    for (int k = 0; k < 8; ++k) {
      out[i * nk + k] += scale * acc[i][0][k];
      out[i * nk + 8 + k] += scale * acc[i][1][k];
    }
}

// Kernels nk0..nk-1 (fewer than 16), one position: plain loops in the same summation order.
inline void gather_tail(const float* in, int rows, std::ptrdiff_t row_stride, int row_len, const float* wt,
                        std::ptrdiff_t wrow, int nk, int k0, float* out, float scale) {
  float acc[16] = {};
  const int nt = nk - k0;
  for (int r = 0; r < rows; ++r) {
    const float* x = in + r * row_stride;
    const float* w = wt + r * wrow + k0;
    for (int j = 0; j < row_len; ++j, w += nk)
      for (int k = 0; k < nt; ++k) acc[k] += x[j] * w[k];
  }
  for (int k = 0; k < nt; ++k) out[k0 + k] += scale * acc[k];
}

}  // namespace

void deliver_gather(const ConvShape& s, const float* wt, const Tensor& fine, Tensor& coarse, float scale) {
  const int B = fine.batch(), ncy = s.coarse.ny, ncx = s.coarse.nx, nk = s.coarse.nf;
  const int nfy = s.fine.ny, nfx = s.fine.nx, nff = s.fine.nf;
  const Padding pad = padding(s);
  // Zero-padded copy of the fine input: every patch then lies inside it.
  std::vector<float> padded(std::size_t(B) * pad.ny * pad.nx * nff, 0.0f);
  const std::ptrdiff_t prow = std::ptrdiff_t(pad.nx) * nff;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int y = 0; y < nfy; ++y)
      std::copy_n(fine.data() + ((std::size_t(b) * nfy + y) * nfx) * nff, std::size_t(nfx) * nff,
                  padded.data() + (std::size_t(b) * pad.ny + y + pad.top) * prow + std::ptrdiff_t(pad.left) * nff);
  const int row_len = s.patch_x * nff;
  const std::ptrdiff_t wrow = std::ptrdiff_t(row_len) * nk, step = std::ptrdiff_t(s.stride_x) * nff;
#if defined(__AVX512VL__)
  constexpr int P = 8;  // 16 accumulators: 32 vector registers available
#else
  constexpr int P = 6;  // 12 accumulators + 2 weight vectors + 1 broadcast fit AVX2's 16 registers
#endif
  // Each (b, cy) output row belongs to one thread.
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int cy = 0; cy < ncy; ++cy) {
      // Padded row of the patches' first line, and column of the first position's patch.
      const float* in_row = padded.data() + (std::size_t(b) * pad.ny + cy * s.stride_y + s.offset_y + pad.top) * prow +
                            std::ptrdiff_t(s.offset_x + pad.left) * nff;
      float* out_row = coarse.data() + ((std::size_t(b) * ncy + cy) * ncx) * nk;
      int k0 = 0;
      for (; k0 + 16 <= nk; k0 += 16) {
        int cx = 0;
        for (; cx + P <= ncx; cx += P)
          gather_block16<P>(in_row + cx * step, step, s.patch_y, prow, row_len, wt + k0, wrow, nk,
                            out_row + std::size_t(cx) * nk + k0, scale);
        for (; cx < ncx; ++cx)
          gather_block16<1>(in_row + cx * step, step, s.patch_y, prow, row_len, wt + k0, wrow, nk,
                            out_row + std::size_t(cx) * nk + k0, scale);
      }
      if (k0 < nk)
        for (int cx = 0; cx < ncx; ++cx)
          gather_tail(in_row + cx * step, s.patch_y, prow, row_len, wt, wrow, nk, k0, out_row + std::size_t(cx) * nk,
                      scale);
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
