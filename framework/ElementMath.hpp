#pragma once
// Per-element arithmetic written once for the CPU backend and (later) CUDA kernels.
// Every function here is plain inline math: no allocation, no globals, no I/O.
#include <cmath>

#ifdef __CUDACC__
#define LAMINAR_HD __host__ __device__
#else
#define LAMINAR_HD
#endif

namespace laminar::math {

enum class Threshold : int { Soft = 0, SoftNonNegative = 1, Hard = 2, Firm = 3 };

struct ThresholdParams {
  Threshold kind = Threshold::Soft;
  float lambda = 0.1f;      // threshold
  float width = 0.0f;       // firm threshold ramp width (OpenPV's VWidth)
  float a_min = -INFINITY;  // optional clamps applied after thresholding
  float a_max = INFINITY;
};

// a = T_lambda(u)  (seed paper eq. 3's transfer function; OpenPV's ANN activity).
// `threshold_of<K>` is the same function for a kind fixed at compile time: branch-free selects
// that vectorise, for the layer's update loop.
template <Threshold K>
LAMINAR_HD inline float threshold_of(float u, const ThresholdParams& p) {
  // Every arm's arithmetic is done unconditionally and only the result selected: an operation inside a
  // ternary's arm is one the compiler may not speculate (it could raise a floating-point exception), so
  // the ternary stays a branch and the loop does not vectorise.
  float a = 0.0f;
  const float m = fabsf(u), s = copysignf(1.0f, u);
  if constexpr (K == Threshold::Soft) {  // sign(u) max(|u| - lambda, 0)
    const float shrunk = s * (m - p.lambda);
    a = m > p.lambda ? shrunk : 0.0f;
  } else if constexpr (K == Threshold::SoftNonNegative) {  // max(u - lambda, 0)
    const float shrunk = u - p.lambda;
    a = u > p.lambda ? shrunk : 0.0f;
  } else if constexpr (K == Threshold::Hard) {  // u where |u| > lambda
    a = m > p.lambda ? u : 0.0f;
  } else {  // Firm: 0 below lambda, linear ramp to u over [lambda, lambda + width], u above
    const float ramp = s * (p.lambda + p.width) * (m - p.lambda) / p.width;
    a = m <= p.lambda ? 0.0f : (m >= p.lambda + p.width ? u : ramp);
  }
  a = a < p.a_min ? p.a_min : a;
  return a > p.a_max ? p.a_max : a;
}

LAMINAR_HD inline float threshold(float u, const ThresholdParams& p) {
  switch (p.kind) {
    case Threshold::Soft: return threshold_of<Threshold::Soft>(u, p);
    case Threshold::SoftNonNegative: return threshold_of<Threshold::SoftNonNegative>(u, p);
    case Threshold::Hard: return threshold_of<Threshold::Hard>(u, p);
    case Threshold::Firm: return threshold_of<Threshold::Firm>(u, p);
  }
  return 0.0f;
}

// lambda * C(a): the sparsity cost whose gradient the threshold implements (u - a = lambda C'(a)).
LAMINAR_HD inline float sparsity_cost(float a, const ThresholdParams& p) {
  float m = a < 0.0f ? -a : a;
  switch (p.kind) {
    case Threshold::Soft:
    case Threshold::SoftNonNegative:
      return p.lambda * m;  // lambda |a|
    case Threshold::Hard:
      return m > 0.0f ? 0.5f * p.lambda * p.lambda : 0.0f;  // (lambda^2 / 2) L0 (OpenPV L0NormLCAProbe)
    case Threshold::Firm: {
      float t = p.lambda + p.width;  // OpenPV FirmThresholdCostFnLCAProbe
      return p.lambda * (m < t ? m * (1.0f - m / (2.0f * t)) : 0.5f * t);
    }
  }
  return 0.0f;
}

// The energy terms of one batch element, summed in double in index order (the Energy probe's values on
// the CPU, and the CPU backend's reductions): sum of v^2, and sum of the sparsity cost of the nonzero v.
inline double sum_squares(const float* v, long long n) {
  double sum = 0.0;
  for (long long k = 0; k < n; ++k) sum += double(v[k]) * v[k];
  return sum;
}
inline double total_sparsity_cost(const float* v, long long n, const ThresholdParams& p) {
  // The nonzeros' costs summed in order, as `for k: if (v[k] != 0) sum += cost(v[k])` does, but the
  // nonzeros found 32 at a time (a compare into a bit mask, which vectorises) and visited bit by bit:
  // sparse activity (a few % nonzero, clustered or not) costs a scan, not a mispredicted branch per value.
  double sum = 0.0;
  for (long long k0 = 0; k0 < n; k0 += 32) {
    const int m = n - k0 < 32 ? int(n - k0) : 32;
    unsigned mask = 0;
    if (m == 32) {
      for (int k = 0; k < 32; ++k) mask |= unsigned(v[k0 + k] != 0.0f) << k;
    } else {
      for (int k = 0; k < m; ++k) mask |= unsigned(v[k0 + k] != 0.0f) << k;
    }
    while (mask) {
      sum += sparsity_cost(v[k0 + __builtin_ctz(mask)], p);
      mask &= mask - 1;
    }
  }
  return sum;
}

// LCA membrane update (seed eq. 3, OpenPV HyPerLCAInternalStateBuffer):
//   tau du/dt = -u + drive + a.  Exponential Euler: u <- decay u + (1 - decay)(drive + a),
//   decay = exp(-dt/tau), stable for any dt/tau. Forward Euler: u <- u + (dt/tau)(drive + a - u).
LAMINAR_HD inline float membrane_exponential(float u, float drive_plus_self, float decay) {
  return decay * u + (1.0f - decay) * drive_plus_self;
}
LAMINAR_HD inline float membrane_euler(float u, float drive_plus_self, float dt_over_tau) {
  return u + dt_over_tau * (drive_plus_self - u);
}
// Heavy-ball momentum on either integrator's step (LCA `momentum`, after OpenPV's MomentumLCALayer):
// with `plain` the integrator's new membrane, the step delta = (plain - u) + mu * previous moves the
// membrane and is kept in `previous` for the next step (0 at the start and at every membrane reset).
LAMINAR_HD inline float membrane_momentum(float u, float plain, float& previous, float mu) {
  const float step = (plain - u) + mu * previous;
  previous = step;
  return u + step;
}

// Error layer: e = scale (excitatory - inhibitory), e.g. input minus reconstruction.
LAMINAR_HD inline float error_value(float excitatory, float inhibitory, float scale) {
  return scale * (excitatory - inhibitory);
}

}  // namespace laminar::math
