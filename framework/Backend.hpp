#pragma once
// Numeric kernels behind one interface (ARCHITECTURE.md `Backend`). The CPU backend is the
// reference: OpenMP loops over the per-element functions of ElementMath.hpp, exploiting
// activity sparsity. A CUDA backend (issue 8) implements the same entry points.
//
// Convolution geometry: every connection with weights relates a "coarse" grid (its kernels'
// owner; stride s coarser, or equal; s may differ per axis: sy, sx) and a "fine" grid. Kernel k is a patch_y x patch_x x nf_fine
// patch on the fine grid: coarse position (cy, cx) covers fine rows cy*s + offset_y + [0, patch_y)
// and columns cx*s + offset_x + [0, patch_x); positions outside the fine grid are zero (no wrap).
//   Phi a   (coarse -> fine, "scatter"):  fine[y,x,f] += sum_{c,k} W[k, y-cy*s-oy, x-cx*s-ox, f] a[c,k]
//   Phi^T e (fine -> coarse, "gather"):   coarse[c,k] += sum_{py,px,f} W[k,py,px,f] e[cy*s+oy+py, cx*s+ox+px, f]
// The two are exact adjoints: <Phi a, e> = <a, Phi^T e>.
#include <vector>

#include "framework/Tensor.hpp"

namespace laminar {

struct ConvShape {
  Geometry fine, coarse;
  // Strides along y and x (equal unless the layers' size ratios differ per axis, e.g. a joint layer
  // over a 128x16 text stream); `stride` is the x stride, kept for the isotropic callers.
  int stride = 1;
  int stride_y = 1, stride_x = 1;
  int patch_y = 1, patch_x = 1;
  int offset_y = 0, offset_x = 0;
  int kernels() const { return coarse.nf; }
  int features() const { return fine.nf; }
  std::size_t kernel_size() const { return std::size_t(patch_y) * patch_x * fine.nf; }
  std::size_t weights_size() const { return kernel_size() * coarse.nf; }

  // Centred patches: offset = -floor((patch - stride) / 2), as PyTorch's 'same' padding at s = 1.
  static ConvShape make(const Geometry& fine, const Geometry& coarse, int stride, int patch_y, int patch_x);
  // Per-axis strides: offset_y = -floor((patch_y - stride_y)/2), offset_x likewise.
  static ConvShape make(const Geometry& fine, const Geometry& coarse, int stride_y, int stride_x, int patch_y,
                        int patch_x);
};

namespace cpu {

// fine += scale * Phi coarse. Skips zero coarse activity (LCA layers are mostly zeros).
void deliver_scatter(const ConvShape& s, const float* weights, const Tensor& coarse, Tensor& fine, float scale);
// coarse += scale * Phi^T fine. `weights_t` is the weights transposed to [py][px][f][k]
// (see transpose_weights); skips zero fine values.
void deliver_gather(const ConvShape& s, const float* weights_t, const Tensor& fine, Tensor& coarse, float scale);
void transpose_weights(const ConvShape& s, const float* weights, std::vector<float>& weights_t);
// dW[k,py,px,f] += scale * sum_b sum_c coarse[b,c,k] fine[b, c*s+o+p, f]  (Hebbian: pre x post).
void hebbian(const ConvShape& s, const Tensor& coarse, const Tensor& fine, float* dw, float scale);
// Scale each kernel to L2 norm `strength` (kernels of zero norm are left as they are).
void normalize_l2(const ConvShape& s, float* weights, float strength);

}  // namespace cpu
}  // namespace laminar
