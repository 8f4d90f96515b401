#pragma once
// Numeric kernels behind one interface (docs/architecture.md, "Backend"). The CPU backend is the
// reference: OpenMP loops over the per-element functions of ElementMath.hpp, exploiting
// activity sparsity. The device backends (KernelBackend.hpp: CUDA, and its host emulation used to
// test it without a GPU) run the per-element kernels of Kernels.hpp on buffers resident in their
// memory (Buffer.hpp). Layers and connections call a Backend; they never touch CUDA or copy data.
//
// Convolution geometry: every connection with weights relates a "coarse" grid (its kernels'
// owner; stride s coarser, or equal; s may differ per axis: sy, sx) and a "fine" grid. Kernel k is a patch_y x patch_x x nf_fine
// patch on the fine grid: coarse position (cy, cx) covers fine rows cy*s + offset_y + [0, patch_y)
// and columns cx*s + offset_x + [0, patch_x); positions outside the fine grid are zero (no wrap).
//   Phi a   (coarse -> fine, "scatter"):  fine[y,x,f] += sum_{c,k} W[k, y-cy*s-oy, x-cx*s-ox, f] a[c,k]
//   Phi^T e (fine -> coarse, "gather"):   coarse[c,k] += sum_{py,px,f} W[k,py,px,f] e[cy*s+oy+py, cx*s+ox+px, f]
// The two are exact adjoints: <Phi a, e> = <a, Phi^T e>.
#include <memory>
#include <string>
#include <vector>

#include "framework/ElementMath.hpp"
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

// One LCA membrane step: u <- update(u, exc - inh + self * a); a <- T(u). Channels may be absent.
struct LcaStep {
  math::ThresholdParams threshold;
  bool euler = false;  // forward Euler (rate) instead of exponential Euler (decay)
  float decay = 0.0f, rate = 0.0f, self = 1.0f;
  // A dt per batch element (an adaptive timestep, probes/AdaptiveTimestepProbe.hpp): when not empty,
  // one value per batch element of the buffers, used by that element instead of `decay` (exponential)
  // or `rate` (euler). Empty: every element takes `decay`/`rate` (the constant-dt loop, unchanged).
  std::vector<float> factors;
  // Heavy-ball momentum (LCA `momentum`): when momentum > 0, `previous` (the membrane's shape) holds each
  // value's last step and u moves by (the integrator's step) + momentum * previous, which is then stored
  // there (math::membrane_momentum). momentum 0: the plain update, `previous` unused.
  float momentum = 0.0f;
  Tensor* previous = nullptr;
};

// Per batch element reductions (in double) for probes and the NaN guard.
enum class Reduction { Sum, SumSquares, SparsityCost };
// One of a batch of reductions (Backend::reduce_many).
struct ReduceItem {
  Reduction reduction = Reduction::Sum;
  const Tensor* tensor = nullptr;
  math::ThresholdParams threshold;  // for SparsityCost
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "cpu", "cuda", "device_emulation".
  virtual std::string name() const = 0;
  // The memory its kernels read and write (nullptr: the host's).
  virtual DeviceMemory* memory() { return nullptr; }
  // Details for logs (e.g. the GPU's name); empty for the CPU.
  virtual std::string description() const { return {}; }
  // How a device backend convolves (simulation.device_convolution): "direct" (one thread per output
  // element; the scatter skips zero activity), "gemm" (im2col + a BLAS GEMM: cuBLAS on the GPU), or
  // "auto" (direct sparse scatter, GEMM gather and Hebbian). The CPU backend has its own kernels.
  virtual void set_convolution_algorithm(const std::string& name) {}
  // Free bytes of the memory its kernels use, where a device backend knows it (0: unknown or the host's).
  virtual double free_device_memory() const { return 0.0; }

  // fine += scale * Phi coarse (w: [k][py][px][f]).
  virtual void scatter(const ConvShape& s, const Buffer& w, const Tensor& coarse, Tensor& fine, float scale) = 0;
  // coarse += scale * Phi^T fine (wt: the weights as transpose_weights lays them out for this backend).
  virtual void gather(const ConvShape& s, const Buffer& wt, const Tensor& fine, Tensor& coarse, float scale) = 0;
  virtual void transpose_weights(const ConvShape& s, const Buffer& w, Buffer& wt) = 0;
  // dw += scale * sum_b sum_c coarse (x) fine (dw sized weights_size()).
  virtual void hebbian(const ConvShape& s, const Tensor& coarse, const Tensor& fine, Buffer& dw, float scale) = 0;
  // Each kernel to L2 norm `strength` (zero kernels left alone).
  virtual void normalize_l2(const ConvShape& s, Buffer& w, float strength) = 0;
  // mu > 0: v <- mu v + dw, w <- w + eta v; else w <- w + eta dw.
  virtual void weight_update(Buffer& w, Buffer& v, const Buffer& dw, float eta, float mu) = 0;
  // An LCA step over whole buffers (exc/inh nullptr when the channel is unused).
  virtual void lca_update(const LcaStep& step, const Tensor* exc, const Tensor* inh, Tensor& u, Tensor& a) = 0;
  // e = scale (exc - inh), channels as above.
  virtual void error_update(float scale, const Tensor* exc, const Tensor* inh, Tensor& e) = 0;
  // y += s x.
  virtual void axpy(float s, const Tensor& x, Tensor& y) = 0;
  // out[b] = sum over batch element b of v, v^2 or the sparsity cost of v (th needed for the last).
  virtual void reduce(Reduction r, const Tensor& t, std::vector<double>& out,
                      const math::ThresholdParams* th = nullptr) = 0;
  // Several reductions at once, `out` their results one after the other (batch values each): a device
  // backend reads them back in one transfer (the NaN guard and the Energy probe, every step).
  virtual void reduce_many(const std::vector<ReduceItem>& items, std::vector<double>& out) {
    out.clear();
    std::vector<double> one;
    for (const ReduceItem& i : items) {
      reduce(i.reduction, *i.tensor, one, &i.threshold);
      out.insert(out.end(), one.begin(), one.end());
    }
  }

  // The CPU backend (always there).
  static Backend& cpu();
  // By name, as `simulation.backend` spells it; a user error (what is missing and why) if this build or
  // machine cannot run it. One device per process (MPI rank: its node-local rank modulo the devices).
  static Backend& named(const std::string& name);
  // Every name `named` knows, whether or not this build or machine can run it: "cpu", "device_emulation",
  // "cuda". Every kind, built-in or plugin, runs on each of them (kinds compute through a Backend, and a
  // Buffer read or written on the host stays coherent with its device copy), so `laminar describe`
  // lists them all for every kind.
  static const std::vector<std::string>& names();
};

namespace cpu {

// fine += scale * Phi coarse. Skips zero coarse activity (LCA layers are mostly zeros).
void deliver_scatter(const ConvShape& s, const float* weights, const Tensor& coarse, Tensor& fine, float scale);
// coarse += scale * Phi^T fine, dense: a register-tiled GEMM over (batch x coarse positions) x kernels.
// `weights_t` comes from transpose_weights.
void deliver_gather(const ConvShape& s, const float* weights_t, const Tensor& fine, Tensor& coarse, float scale);
// The weights packed for deliver_gather: kernels in panels of gather_block() (the last panel zero-padded),
// panel p holding [py][px][f][kernel k - p * gather_block()], so the gather streams it contiguously.
void transpose_weights(const ConvShape& s, const float* weights, std::vector<float>& weights_t);
int gather_block();
// dW[k,py,px,f] += scale * sum_b sum_c coarse[b,c,k] fine[b, c*s+o+p, f]  (Hebbian: pre x post).
void hebbian(const ConvShape& s, const Tensor& coarse, const Tensor& fine, float* dw, float scale);
// Scale each kernel to L2 norm `strength` (kernels of zero norm are left as they are).
void normalize_l2(const ConvShape& s, float* weights, float strength);

}  // namespace cpu
}  // namespace laminar
