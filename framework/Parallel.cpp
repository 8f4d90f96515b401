#include "framework/Parallel.hpp"

#include <algorithm>

#include "framework/Communicator.hpp"

namespace laminar::parallel {

int margin_y(const ConvShape& s) { return (s.patch_y + s.stride_y - 1) / s.stride_y + 1; }
int margin_x(const ConvShape& s) { return (s.patch_x + s.stride_x - 1) / s.stride_x + 1; }

namespace {
// The shape of the local problem: `fine`/`coarse` local (or extended) geometries, offsets shifted
// so that index 0 of each is where it starts globally.
ConvShape local_shape(const ConvShape& g, const Geometry& fine, const Geometry& coarse, int shift_y, int shift_x) {
  ConvShape s = g;
  s.fine = fine;
  s.coarse = coarse;
  s.offset_y = g.offset_y + shift_y;
  s.offset_x = g.offset_x + shift_x;
  return s;
}
}  // namespace

void deliver(Backend& backend, const ConvShape& global, bool scatter, const Buffer& w, const Tensor& in, Tensor& out,
             float scale, Tensor& ext) {
  Communicator& comm = Communicator::world();
  if (comm.decomposition().spatial() == 1) {
    // Whole layers (possibly fewer batch elements): the kernels as in one process.
    if (scatter) backend.scatter(global, w, in, out, scale);
    else backend.gather(global, w, in, out, scale);
    return;
  }
  // Per axis: margins of my (mx) coarse cells = my sy (mx sx) fine cells.
  const int my = margin_y(global), mx = margin_x(global), sy = global.stride_y, sx = global.stride_x;
  if (scatter) {
    // in: coarse tile extended by m coarse cells; its cell 0 is at global coarse (cy0 - m), whose
    // patch starts at fine row (cy0 - m) s + o = fy0 + (o - m s).
    comm.halo(in, global.coarse, my, mx, ext);
    const ConvShape ls = local_shape(global, out.geometry(), ext.geometry(), -my * sy, -mx * sx);
    backend.scatter(ls, w, ext, out, scale);
  } else {
    // in: fine tile extended by m s fine cells; coarse cell 0 (global cy0) reads from fine row
    // cy0 s + o = (fy0 - m s) + (o + m s) of the extended tile.
    comm.halo(in, global.fine, my * sy, mx * sx, ext);
    const ConvShape ls = local_shape(global, ext.geometry(), out.geometry(), my * sy, mx * sx);
    backend.gather(ls, w, ext, out, scale);
  }
}

void hebbian(Backend& backend, const ConvShape& global, const Tensor& coarse, const Tensor& fine, Buffer& dw,
             float scale, Tensor& ext) {
  Communicator& comm = Communicator::world();
  if (comm.decomposition().spatial() == 1) {
    backend.hebbian(global, coarse, fine, dw, scale);
  } else {
    const int my = margin_y(global), mx = margin_x(global), sy = global.stride_y, sx = global.stride_x;
    comm.halo(fine, global.fine, my * sy, mx * sx, ext);
    const ConvShape ls = local_shape(global, ext.geometry(), coarse.geometry(), my * sy, mx * sx);
    backend.hebbian(ls, coarse, ext, dw, scale);
  }
  if (comm.size() > 1) comm.sum_to_all(dw.data(), dw.size());  // (data(): a device's dW comes to the host only here)
}

}  // namespace laminar::parallel
