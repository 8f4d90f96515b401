#pragma once
// The device backends' kernels, written once: each is a functor whose operator()(i) computes
// output element i (no atomics, no shared state, so results do not depend on the launch). The CUDA
// backend launches them on a grid (framework/cuda/CudaBackend.cu), the device emulation runs them in
// OpenMP loops on the host (KernelBackend.hpp), so the CPU test suite covers their indexing and
// arithmetic. The per-element math comes from ElementMath.hpp, the same functions the CPU backend uses.
//
// Geometry as in Backend.hpp: coarse position (cy, cx) covers fine rows cy*sy + oy + [0, py) and
// columns cx*sx + ox + [0, px); buffers are batch x ny x nx x nf, feature fastest; weights
// w[k][qy][qx][f], transposed wt[qy][qx][f][k].
#include "framework/ElementMath.hpp"

namespace laminar::kernels {

using index = long long;

struct ConvDims {
  int batch = 1;
  int fny = 0, fnx = 0, fnf = 0;  // fine grid
  int cny = 0, cnx = 0, cnk = 0;  // coarse grid (cnk kernels)
  int sy = 1, sx = 1, py = 1, px = 1, oy = 0, ox = 0;
  LAMINAR_HD index ksize() const { return index(py) * px * fnf; }
};

LAMINAR_HD inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
LAMINAR_HD inline int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
LAMINAR_HD inline int imax(int a, int b) { return a > b ? a : b; }
LAMINAR_HD inline int imin(int a, int b) { return a < b ? a : b; }

// i = ((o * n1 + p) * n2 + q) * n3 + r  ->  {o, p, q, r}: an output element's coordinates.
struct Coord {
  int o, p, q, r;
};
LAMINAR_HD inline Coord unflatten(index i, int n1, int n2, int n3) {
  Coord c;
  c.r = int(i % n3);
  i /= n3;
  c.q = int(i % n2);
  i /= n2;
  c.p = int(i % n1);
  c.o = int(i / n1);
  return c;
}

// Coarse positions c0..c1 (inclusive) whose patch covers fine index y along one axis:
// c*s + o <= y < c*s + o + p, clipped to [0, n).
LAMINAR_HD inline void covering(int y, int s, int o, int p, int n, int& c0, int& c1) {
  c0 = imax(0, ceil_div(y - o - p + 1, s));
  c1 = imin(n - 1, floor_div(y - o, s));
}

// fine[b,y,x,f] += scale * sum_{cy,cx covering (y,x)} sum_k w[k, y-cy sy-oy, x-cx sx-ox, f] coarse[b,cy,cx,k]
// (Phi a). Zero activity is skipped: LCA codes are sparse.
struct Scatter {
  ConvDims d;
  const float* w;
  const float* coarse;
  float* fine;
  float scale;
  LAMINAR_HD void operator()(index i) const {
    const Coord c = unflatten(i, d.fny, d.fnx, d.fnf);
    const int b = c.o, y = c.p, x = c.q, f = c.r;
    int cy0, cy1, cx0, cx1;
    covering(y, d.sy, d.oy, d.py, d.cny, cy0, cy1);
    covering(x, d.sx, d.ox, d.px, d.cnx, cx0, cx1);
    const index ks = d.ksize();
    float sum = 0.0f;
    for (int cy = cy0; cy <= cy1; ++cy) {
      const int qy = y - cy * d.sy - d.oy;
      for (int cx = cx0; cx <= cx1; ++cx) {
        const int qx = x - cx * d.sx - d.ox;
        const float* a = coarse + ((index(b) * d.cny + cy) * d.cnx + cx) * d.cnk;
        const float* wk = w + (index(qy) * d.px + qx) * d.fnf + f;
        for (int k = 0; k < d.cnk; ++k)
          if (a[k] != 0.0f) sum += a[k] * wk[k * ks];
      }
    }
    fine[i] += scale * sum;
  }
};

// coarse[b,cy,cx,k] += scale * sum_{qy,qx,f} wt[qy,qx,f,k] fine[b, cy sy+oy+qy, cx sx+ox+qx, f]  (Phi^T e).
struct Gather {
  ConvDims d;
  const float* wt;
  const float* fine;
  float* coarse;
  float scale;
  LAMINAR_HD void operator()(index i) const {
    const Coord c = unflatten(i, d.cny, d.cnx, d.cnk);
    const int b = c.o, cy = c.p, cx = c.q, k = c.r;
    float sum = 0.0f;
    for (int qy = 0; qy < d.py; ++qy) {
      const int y = cy * d.sy + d.oy + qy;
      if (y < 0 || y >= d.fny) continue;
      for (int qx = 0; qx < d.px; ++qx) {
        const int x = cx * d.sx + d.ox + qx;
        if (x < 0 || x >= d.fnx) continue;
        const float* e = fine + ((index(b) * d.fny + y) * d.fnx + x) * d.fnf;
        const float* wr = wt + (index(qy) * d.px + qx) * d.fnf * d.cnk + k;
        for (int f = 0; f < d.fnf; ++f) sum += e[f] * wr[index(f) * d.cnk];
      }
    }
    coarse[i] += scale * sum;
  }
};

// dw[k,qy,qx,f] += scale * sum_{b,cy,cx} coarse[b,cy,cx,k] fine[b, cy sy+oy+qy, cx sx+ox+qx, f]  (Hebbian).
struct Hebbian {
  ConvDims d;
  const float* coarse;
  const float* fine;
  float* dw;
  float scale;
  LAMINAR_HD void operator()(index i) const {
    const Coord c = unflatten(i, d.py, d.px, d.fnf);
    const int k = c.o, qy = c.p, qx = c.q, f = c.r;
    // Positions whose patch element (qy, qx) lies inside the fine grid.
    const int cy0 = imax(0, ceil_div(-d.oy - qy, d.sy)), cy1 = imin(d.cny - 1, floor_div(d.fny - 1 - d.oy - qy, d.sy));
    const int cx0 = imax(0, ceil_div(-d.ox - qx, d.sx)), cx1 = imin(d.cnx - 1, floor_div(d.fnx - 1 - d.ox - qx, d.sx));
    float sum = 0.0f;
    for (int b = 0; b < d.batch; ++b)
      for (int cy = cy0; cy <= cy1; ++cy) {
        const int y = cy * d.sy + d.oy + qy;
        for (int cx = cx0; cx <= cx1; ++cx) {
          const float a = coarse[((index(b) * d.cny + cy) * d.cnx + cx) * d.cnk + k];
          if (a == 0.0f) continue;
          const int x = cx * d.sx + d.ox + qx;
          sum += a * fine[((index(b) * d.fny + y) * d.fnx + x) * d.fnf + f];
        }
      }
    dw[i] += scale * sum;
  }
};

// The GEMM formulation (dense delivery through a BLAS: cuBLAS on the GPU). With M = batch x coarse
// positions and the patch matrix P[m][j] = fine value under patch element j = (qy, qx, f) of position m
// (0 outside the grid):  Phi^T e = P W^T,  dW = A^T P,  and Phi a = col2im(A W), A[m][k] the coarse values.
struct Im2col {
  ConvDims d;
  const float* fine;
  float* patches;  // [M][ksize]
  LAMINAR_HD void operator()(index i) const {
    const index ks = d.ksize();
    const index m = i / ks;
    const int j = int(i % ks);
    const int f = j % d.fnf, qx = (j / d.fnf) % d.px, qy = j / (d.fnf * d.px);
    const int cx = int(m % d.cnx), cy = int((m / d.cnx) % d.cny), b = int(m / (index(d.cnx) * d.cny));
    const int y = cy * d.sy + d.oy + qy, x = cx * d.sx + d.ox + qx;
    patches[i] = (y < 0 || y >= d.fny || x < 0 || x >= d.fnx) ? 0.0f
                                                                : fine[((index(b) * d.fny + y) * d.fnx + x) * d.fnf + f];
  }
};

// fine[b,y,x,f] += scale * sum over the positions covering (y, x) of cols[m][(y - cy sy - oy, x - cx sx - ox, f)].
struct Col2im {
  ConvDims d;
  const float* cols;  // [M][ksize]
  float* fine;
  float scale;
  LAMINAR_HD void operator()(index i) const {
    const Coord c = unflatten(i, d.fny, d.fnx, d.fnf);
    const int b = c.o, y = c.p, x = c.q, f = c.r;
    int cy0, cy1, cx0, cx1;
    covering(y, d.sy, d.oy, d.py, d.cny, cy0, cy1);
    covering(x, d.sx, d.ox, d.px, d.cnx, cx0, cx1);
    const index ks = d.ksize();
    float sum = 0.0f;
    for (int cy = cy0; cy <= cy1; ++cy)
      for (int cx = cx0; cx <= cx1; ++cx) {
        const index m = (index(b) * d.cny + cy) * d.cnx + cx;
        const int qy = y - cy * d.sy - d.oy, qx = x - cx * d.sx - d.ox;
        sum += cols[m * ks + (index(qy) * d.px + qx) * d.fnf + f];
      }
    fine[i] += scale * sum;
  }
};

// wt[j][k] = w[k][j], j over one kernel's ksize values.
struct TransposeWeights {
  const float* w;
  float* wt;
  index ksize;
  int nk;
  LAMINAR_HD void operator()(index i) const {
    const index j = i / nk;
    const int k = int(i % nk);
    wt[i] = w[k * ksize + j];
  }
};

// Weight i scaled so that its kernel (i / ksize) has L2 norm `strength`, given every kernel's sum of
// squares (in double; kernels of zero norm are left as they are).
struct ScaleToNorm {
  float* w;
  const double* sum_squares;
  index ksize;
  float strength;
  LAMINAR_HD void operator()(index i) const {
    const double sum = sum_squares[i / ksize];
    if (sum > 0.0) w[i] *= float(strength / sqrt(sum));
  }
};

struct WeightUpdate {
  float* w;
  float* v;  // momentum (nullptr without)
  const float* dw;
  float eta, mu;
  LAMINAR_HD void operator()(index i) const {
    if (v) {
      v[i] = mu * v[i] + dw[i];
      w[i] += eta * v[i];
    } else {
      w[i] += eta * dw[i];
    }
  }
};

// The LCA step: u <- either integrator's update with drive = exc - inh + self a, then (Momentum)
// math::membrane_momentum's heavy-ball step with each value's previous step `prev`; a <- T(u). The factor
// (the decay for the exponential integrator, the rate for Euler) is per batch element b = i / element
// where `element` > 0 (an adaptive timestep), else inline_factor[0] for every value. Up to kInline
// factors travel in the functor itself (a kernel argument: no copy, no wait for the device); more are
// read from `factor`, an array in the executor's memory.
template <math::Threshold K, bool Euler, bool Momentum>
struct LcaUpdate {
  static constexpr int kInline = 64;
  const float* ge;      // excitatory channel (nullptr: unused)
  const float* gi;      // inhibitory channel (nullptr: unused)
  float* u;
  float* a;
  float* prev;          // Momentum: the previous step, the membrane's shape (else unused)
  const float* factor;  // [batch] in the executor's memory, or nullptr: inline_factor holds them
  index element;        // values per batch element; 0: one factor for all
  float self, mu;
  math::ThresholdParams th;
  float inline_factor[kInline];
  LAMINAR_HD void operator()(index i) const {
    const index b = element > 0 ? i / element : 0;
    const float f = factor ? factor[b] : inline_factor[b];
    const float drive = (ge ? ge[i] : 0.0f) - (gi ? gi[i] : 0.0f) + self * a[i];
    const float plain = Euler ? math::membrane_euler(u[i], drive, f) : math::membrane_exponential(u[i], drive, f);
    if constexpr (Momentum) u[i] = math::membrane_momentum(u[i], plain, prev[i], mu);
    else u[i] = plain;
    a[i] = math::threshold_of<K>(u[i], th);
  }
};

struct ErrorUpdate {
  const float* ge;
  const float* gi;
  float* e;
  float scale;
  LAMINAR_HD void operator()(index i) const {
    e[i] = math::error_value(ge ? ge[i] : 0.0f, gi ? gi[i] : 0.0f, scale);
  }
};

struct Axpy {
  float s;
  const float* x;
  float* y;
  LAMINAR_HD void operator()(index i) const { y[i] += s * x[i]; }
};

struct Fill {
  float* p;
  float v;
  LAMINAR_HD void operator()(index i) const { p[i] = v; }
};

// The value summed by a Reduction (Backend.hpp) at element i.
struct ReduceValue {
  int kind;  // 0 sum, 1 sum of squares, 2 sparsity cost
  const float* p;
  math::ThresholdParams th;
  LAMINAR_HD double operator()(index i) const {
    const float v = p[i];
    if (kind == 0) return double(v);
    if (kind == 1) return double(v) * v;
    return v != 0.0f ? double(math::sparsity_cost(v, th)) : 0.0;
  }
};

}  // namespace laminar::kernels
