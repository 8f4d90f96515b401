#include "framework/Backend.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace laminar {

ConvShape ConvShape::make(const Geometry& fine, const Geometry& coarse, int stride, int patch_y, int patch_x) {
  ConvShape s;
  s.fine = fine;
  s.coarse = coarse;
  s.stride = stride;
  s.patch_y = patch_y;
  s.patch_x = patch_x;
  // Floor division (C++ '/' truncates toward zero, which differs when patch < stride is odd).
  auto floor_half = [](int d) { return d >= 0 ? d / 2 : -((-d + 1) / 2); };
  s.offset_y = -floor_half(patch_y - stride);
  s.offset_x = -floor_half(patch_x - stride);
  return s;
}

namespace cpu {

namespace {
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
}  // namespace

void deliver_scatter(const ConvShape& s, const float* w, const Tensor& coarse, Tensor& fine, float scale) {
  const int B = coarse.batch(), ncy = s.coarse.ny, ncx = s.coarse.nx, nk = s.coarse.nf;
  const int nfy = s.fine.ny, nfx = s.fine.nx, nff = s.fine.nf;
  // Active (nonzero) coarse neurons, listed per coarse row.
  std::vector<std::vector<Active>> rows(std::size_t(B) * ncy);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int cy = 0; cy < ncy; ++cy) {
      auto& list = rows[std::size_t(b) * ncy + cy];
      const float* a = coarse.data() + ((std::size_t(b) * ncy + cy) * ncx) * nk;
      for (int cx = 0; cx < ncx; ++cx)
        for (int k = 0; k < nk; ++k)
          if (float v = a[cx * nk + k]; v != 0.0f) list.push_back({cx, k, v * scale});
    }
  const std::size_t ksize = s.kernel_size(), rowsize = std::size_t(s.patch_x) * nff;
  // Each thread owns whole fine rows, so writes never collide and the sum order is fixed.
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int y = 0; y < nfy; ++y) {
      float* out = fine.data() + ((std::size_t(b) * nfy + y) * nfx) * nff;
      int c0, c1;
      covering(y, s.stride, s.offset_y, s.patch_y, ncy, c0, c1);
      for (int cy = c0; cy <= c1; ++cy) {
        const int py = y - (cy * s.stride + s.offset_y);
        for (const Active& e : rows[std::size_t(b) * ncy + cy]) {
          const int x0 = e.cx * s.stride + s.offset_x;
          const int px0 = std::max(0, -x0), px1 = std::min(s.patch_x, nfx - x0);
          if (px0 >= px1) continue;
          const float* wr = w + e.k * ksize + py * rowsize;
          const std::ptrdiff_t base = std::ptrdiff_t(x0) * nff;  // may be negative; j keeps base + j >= 0
          const float a = e.a;
#pragma omp simd
          for (int j = px0 * nff; j < px1 * nff; ++j) out[base + j] += a * wr[j];
        }
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

void deliver_gather(const ConvShape& s, const float* wt, const Tensor& fine, Tensor& coarse, float scale) {
  const int B = fine.batch(), ncy = s.coarse.ny, ncx = s.coarse.nx, nk = s.coarse.nf;
  const int nfy = s.fine.ny, nfx = s.fine.nx, nff = s.fine.nf;
#pragma omp parallel
  {
    std::vector<float> acc(nk);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; ++b)
      for (int cy = 0; cy < ncy; ++cy) {
        for (int cx = 0; cx < ncx; ++cx) {
          std::fill(acc.begin(), acc.end(), 0.0f);
          float* accp = acc.data();
          for (int py = 0; py < s.patch_y; ++py) {
            const int y = cy * s.stride + s.offset_y + py;
            if (y < 0 || y >= nfy) continue;
            const int x0 = cx * s.stride + s.offset_x;
            const int px0 = std::max(0, -x0), px1 = std::min(s.patch_x, nfx - x0);
            const float* in = fine.data() + ((std::size_t(b) * nfy + y) * nfx) * nff;
            const std::ptrdiff_t base = std::ptrdiff_t(x0) * nff;
            for (int j = px0 * nff; j < px1 * nff; ++j) {
              const float v = in[base + j];
              if (v == 0.0f) continue;
              const float* wr = wt + (std::size_t(py) * s.patch_x * nff + j) * nk;
#pragma omp simd
              for (int k = 0; k < nk; ++k) accp[k] += v * wr[k];
            }
          }
          float* out = coarse.data() + ((std::size_t(b) * ncy + cy) * ncx + cx) * nk;
#pragma omp simd
          for (int k = 0; k < nk; ++k) out[k] += scale * accp[k];
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
          const int x0 = cx * s.stride + s.offset_x;
          const int px0 = std::max(0, -x0), px1 = std::min(s.patch_x, nfx - x0);
          for (int py = 0; py < s.patch_y; ++py) {
            const int y = cy * s.stride + s.offset_y + py;
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
