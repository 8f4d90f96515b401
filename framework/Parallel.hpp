#pragma once
// Convolution delivery and Hebbian learning over the domain decomposition (Communicator.hpp),
// built on the CPU kernels unchanged. With more than one spatial tile, the input is extended by a
// halo of m = ceil(patch/stride) + 1 coarse cells (m*stride fine cells) on every side, zero outside
// the global grid, and the kernels run on a ConvShape whose offset places this rank's tile inside
// the extended input: the output is written straight into this rank's tile, each value summed in
// exactly the order of a single process, so delivery is bit-identical to one process.
// Learning sums each rank's dW (its tile and batch elements) in rank order (Communicator::sum_to_all).
#include <cstddef>

#include "framework/Backend.hpp"

namespace laminar::parallel {

// out (this rank's tile of the target layer) += scale * Phi in (scatter: in is the coarse layer)
// or scale * Phi^T in (gather: in is the fine layer; needs wt, the transposed weights).
// `global` is the connection's shape on the whole layers.
// `w` is the weights for a scatter, the transposed weights for a gather. The kernels run on `backend`;
// with device buffers the halo is exchanged through the host (the tile is downloaded once, the
// extended tile uploaded once).
// `ext` holds the extended input between calls (kept by the caller, one per direction).
void deliver(Backend& backend, const ConvShape& global, bool scatter, const Buffer& w, const Tensor& in, Tensor& out,
             float scale, Tensor& ext);
// dw (kernels x patch x patch x features) += scale * sum over ranks, batch and positions of
// coarse (x) fine; identical on every rank.
void hebbian(Backend& backend, const ConvShape& global, const Tensor& coarse, const Tensor& fine, Buffer& dw,
             float scale, Tensor& ext);

// Halo margins in coarse cells for a shape, per axis: ceil(patch / stride) + 1.
int margin_y(const ConvShape& s);
int margin_x(const ConvShape& s);

}  // namespace laminar::parallel
