#pragma once
// Opening a named dataset of an HDF5 file read by laminar (image inputs, init_file weights), with
// a message that says why it cannot be: a dangling soft link, an external link, a group, or a
// damaged file (not "expected a numeric array" for an object that was never opened).
#include <hdf5.h>

#include <string>

namespace laminar {

// `file` is open and H5Lexists(file, name) was > 0. Returns the open dataset, or -1 with `problem`
// set to why (a sentence naming the dataset, for "<file>: <problem>").
inline hid_t open_hdf5_dataset(hid_t file, const std::string& name, std::string& problem) {
  const std::string quoted = "'" + name + "'";
  H5L_info_t link;
  if (H5Lget_info(file, name.c_str(), &link, H5P_DEFAULT) < 0) {
    problem = "cannot read the link to dataset " + quoted + ": not a readable HDF5 file (damaged?)";
    return -1;
  }
  if (link.type == H5L_TYPE_EXTERNAL) {
    std::string target;
    if (link.u.val_size > 0) {
      std::string buf(link.u.val_size, '\0');
      const char* efile = nullptr;
      const char* eobj = nullptr;
      if (H5Lget_val(file, name.c_str(), buf.data(), buf.size(), H5P_DEFAULT) >= 0 &&
          H5Lunpack_elink_val(buf.data(), buf.size(), nullptr, &efile, &eobj) >= 0 && efile && eobj)
        target = std::string(" (to ") + efile + ":" + eobj + ")";
    }
    problem = "dataset " + quoted + " is an external link" + target +
              "; external links are not followed (give that file and dataset instead)";
    return -1;
  }
  if (link.type == H5L_TYPE_SOFT && H5Oexists_by_name(file, name.c_str(), H5P_DEFAULT) <= 0) {
    std::string target;
    if (link.u.val_size > 0) {
      std::string buf(link.u.val_size, '\0');
      if (H5Lget_val(file, name.c_str(), buf.data(), buf.size(), H5P_DEFAULT) >= 0)
        target = " to '" + std::string(buf.c_str()) + "'";
    }
    problem = "dataset " + quoted + " is a dangling link (a soft link" + target + ", which does not exist)";
    return -1;
  }
  hid_t obj = H5Oopen(file, name.c_str(), H5P_DEFAULT);
  if (obj < 0) {
    problem = "cannot open " + quoted + ": not a readable HDF5 file (its object header is damaged)";
    return -1;
  }
  const H5I_type_t kind = H5Iget_type(obj);
  if (kind != H5I_DATASET) {
    H5Oclose(obj);
    problem = quoted + " is " + std::string(kind == H5I_GROUP ? "a group" : kind == H5I_DATATYPE ? "a named datatype" : "not a dataset") +
              ", not a dataset (an array)";
    return -1;
  }
  H5Oclose(obj);
  hid_t d = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (d < 0) {
    problem = "cannot open dataset " + quoted + ": not a readable HDF5 file (damaged?)";
    return -1;
  }
  hid_t space = H5Dget_space(d), type = H5Dget_type(d);
  const bool readable = space >= 0 && type >= 0 && H5Sget_simple_extent_ndims(space) >= 0;
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  if (!readable) {
    H5Dclose(d);
    problem = "cannot read the shape or type of dataset " + quoted + ": not a readable HDF5 file (damaged?)";
    return -1;
  }
  return d;
}

}  // namespace laminar
