"""Natural grayscale images for sparse coding: the photographs Debian 12 ships, or any folder.

    from laminar import images
    imgs, names = images.load_images("debian")                    # (34, 256, 256) float64 in [0, 1]
    imgs, names = images.load_images("lomiri-wallpapers-16.04", short_side=512)
    imgs, names = images.load_images("/path/to/photos")           # a folder of PNG/JPEG files
    x = images.camera_256()                                       # the solver problem: (256, 256), mean 0
    images.write_hdf5("natural.h5", imgs, names)                  # ImageInput `path: natural.h5`

Sets shipped by Debian packages (`DEBIAN_SETS`; only files that are real photographs are listed, by
name, so an update of a package that adds an illustration does not change a set silently):

- "skimage" (python3-skimage, BSD-3-Clause package; each image CC0 or public domain, or without known
  restrictions, as its skimage.data docstring says): camera, astronaut, coffee, chelsea, rocket,
  coins, moon, and the texture photographs grass, gravel, brick. 300 to 640 px. Left out: the stereo
  motorcycle pair (a near-duplicate pair from the Middlebury set), microscopy and medical images (cell,
  ihc, retina, microaneurysms), the Hubble deep field (mostly black sky), scanned text, drawings.
- "lomiri-wallpapers-16.04" (Ubuntu Touch contest photographs, /usr/share/backgrounds, CC-BY-4.0,
  CC-BY-SA-4.0 or CC0-1.0 per file, see /usr/share/doc/lomiri-wallpapers-16.04/copyright; the names
  carry the photographers): 13 of its 15 files, 1365 to 5312 px (left out: analogpattern, a
  texture render, and umang, a colour gradient).
- "lxqt-themes" (/usr/share/lxqt/wallpapers, CC-BY-SA-3.0 by its License file): the 11 photographs
  of its 24 wallpapers, 1920 to 3000 px (left out: the origami, triangle, wave and logo renders).
- "debian": the three above, in that order (34 images).

Conventions. Reading: skimage.io.imread; integer images scaled by their dtype's maximum (8-bit /255),
an alpha channel dropped, colour to gray by skimage.color.rgb2gray (ITU-R BT.709 luma
0.2125 R + 0.7154 G + 0.0721 B). Crop: the central `crop x crop` window, top-left corner at
((h - crop) // 2, (w - crop) // 2) (an odd margin puts the extra pixel below/right). By default the
photograph is cropped at its full resolution, as in Ladret, Casanova & Perrinet, "Kernel Heterogeneity
Improves Sparseness of Natural Images Representations" (2023); the wallpapers are 1365-5312 px, so
such a crop is a small, often smooth, part of the picture: `short_side=S` first resizes the image so
its shorter side is S pixels (longer side rounded), by area averaging (PIL's BOX filter, which keeps
values in [0, 1]); images whose shorter side is already <= S are left as they are. An image smaller than the crop (after any resize) is refused with its name and
size; nothing is upsampled. Order: the set's listed order, or sorted file names for a folder.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

SKIMAGE_DATA = Path("/usr/lib/python3/dist-packages/skimage/data")

# set name -> (folder, Debian package, files in order)
DEBIAN_SETS: Dict[str, Tuple[Path, str, Tuple[str, ...]]] = {
    "skimage": (SKIMAGE_DATA, "python3-skimage", (
        "camera.png", "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "coins.png", "moon.png",
        "grass.png", "gravel.png", "brick.png")),
    "lomiri-wallpapers-16.04": (Path("/usr/share/backgrounds"), "lomiri-wallpapers-16.04", (
        "Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg",
        "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg",
        "free_by_Peter_Nerlich.jpg", "friends_by_Aitzol_Berasategi.jpg", "greentock_by_Peter_Nerlich.jpg",
        "life_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "seeding_by_Clements_Engelhardt.jpg", "sunset_by_Aitzol_Berasategi.jpg")),
    "lxqt-themes": (Path("/usr/share/lxqt/wallpapers"), "lxqt-themes", (
        "Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png", "beam.png",
        "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg", "this-is-not-windows.jpg")),
}
ALL_DEBIAN = ("skimage", "lomiri-wallpapers-16.04", "lxqt-themes")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


class ImageSet(NamedTuple):
    """`images`: float64 array (N, crop, crop) in [0, 1]; `names`: N strings, "set/file" for a Debian
    set and the file name for a folder."""
    images: np.ndarray
    names: List[str]


def read_gray(path: Union[str, os.PathLike]) -> np.ndarray:
    """One image file as a 2-D float64 array in [0, 1] (conventions in the module docstring).
    Raises ValueError naming the file when it cannot be read as an image."""
    from skimage import color, io, util

    path = os.fspath(path)
    try:
        a = io.imread(path)
    except Exception as e:  # PIL/imageio raise many kinds
        raise ValueError(f"{path}: not a readable image ({type(e).__name__}: {e})") from e
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[-1] in (2, 4):
        a = a[..., :-1]  # drop alpha
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3)):
        raise ValueError(f"{path}: expected a grayscale or RGB image, got an array of shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.float64)
    elif np.issubdtype(a.dtype, np.integer):
        a = util.img_as_float64(a)
    else:
        a = a.astype(np.float64)
    if a.ndim == 3:
        a = color.rgb2gray(a)
    return np.clip(a, 0.0, 1.0)


def resize_short_side(image: np.ndarray, short_side: int) -> np.ndarray:
    """Downscale a 2-D [0, 1] image so its shorter side is `short_side` (the longer one rounded to keep
    the aspect ratio) by area averaging (PIL BOX filter on 32-bit float pixels). An image whose
    shorter side is already <= short_side is returned unchanged (never upsampled)."""
    from PIL import Image

    h, w = image.shape
    s = short_side / min(h, w)
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    if s >= 1.0:
        return image.copy()
    out = Image.fromarray(np.asarray(image, dtype=np.float32), mode="F").resize(size, Image.Resampling.BOX)
    return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)


def central_crop(image: np.ndarray, crop: int = 256, name: str = "image") -> np.ndarray:
    """The central `crop x crop` window of a 2-D image; top-left at ((h - crop)//2, (w - crop)//2).
    Raises ValueError naming the image when it is smaller than the crop."""
    h, w = image.shape[:2]
    if h < crop or w < crop:
        raise ValueError(f"{name}: {w}x{h} pixels is smaller than the {crop}x{crop} crop "
                         f"(images are not upsampled; use a smaller crop or leave this file out)")
    y0, x0 = (h - crop) // 2, (w - crop) // 2
    return image[y0:y0 + crop, x0:x0 + crop]


def _prepare(path: Path, name: str, crop: int, short_side: Optional[int]) -> np.ndarray:
    img = read_gray(path)
    if short_side is not None:
        if short_side < crop:
            raise ValueError(f"short_side {short_side} is smaller than the crop {crop}")
        img = resize_short_side(img, short_side)
    return central_crop(img, crop, name=f"{path}" + (f" (resized to short side {short_side})" if short_side else ""))


def _files_of(source) -> Tuple[List[Path], List[str]]:
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) in ("debian",) + tuple(DEBIAN_SETS):
        key = os.fspath(source)
        paths, names = [], []
        for set_name in (ALL_DEBIAN if key == "debian" else (key,)):
            folder, package, files = DEBIAN_SETS[set_name]
            for f in files:
                p = folder / f
                if not p.is_file():
                    raise FileNotFoundError(f"{p}: not found; the '{set_name}' set needs the Debian package "
                                            f"{package} (scripts/setup installs it)")
                paths.append(p)
                names.append(f"{set_name}/{f}")
        return paths, names
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        if not folder.exists():
            raise FileNotFoundError(f"{folder}: no such folder (and not a set name: "
                                    f"{', '.join(('debian',) + tuple(DEBIAN_SETS))})")
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder}: expected a folder of PNG/JPEG images or a set name")
        paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise ValueError(f"{folder}: no PNG/JPEG images (*.png, *.jpg, *.jpeg) in this folder")
        return paths, [p.name for p in paths]
    paths = [Path(p) for p in source]  # a sequence of files, in the caller's order
    if not paths:
        raise ValueError("no image files given")
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such file")
    return paths, [p.name for p in paths]


def load_images(source: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]] = "debian", crop: int = 256,
                short_side: Optional[int] = None) -> ImageSet:
    """Grayscale central crops in [0, 1]: `ImageSet(images (N, crop, crop) float64, names)`.

    `source`: a Debian set name ("debian", "skimage", "lomiri-wallpapers-16.04", "lxqt-themes"), a
    folder (its *.png/*.jpg/*.jpeg files, sorted by name; other files ignored), or a sequence of image
    files (kept in the given order). `short_side`: None crops at full resolution (the paper's choice);
    an integer >= crop first downscales each image whose shorter side is longer than that to it. Errors name the file: a missing
    set file or folder (FileNotFoundError), an empty folder, an unreadable or too-small image
    (ValueError)."""
    if crop < 1:
        raise ValueError(f"crop must be >= 1, got {crop}")
    paths, names = _files_of(source)
    out = np.empty((len(paths), crop, crop), dtype=np.float64)
    for i, p in enumerate(paths):
        out[i] = _prepare(p, names[i], crop, short_side)
    return ImageSet(out, names)


def camera_256() -> np.ndarray:
    """The solver problem: skimage's 512x512 8-bit `camera` scaled to [0, 1] (/255), halved to 256x256
    by the mean of each non-overlapping 2x2 block (pixel (i, j) = mean of rows 2i, 2i+1 and columns
    2j, 2j+1), then its mean removed. Returns float64 (256, 256) with mean 0."""
    a = read_gray(SKIMAGE_DATA / "camera.png")
    if a.shape != (512, 512):
        raise ValueError(f"{SKIMAGE_DATA / 'camera.png'}: expected 512x512, got {a.shape[1]}x{a.shape[0]}")
    half = a.reshape(256, 2, 256, 2).mean(axis=(1, 3))
    return half - half.mean()


def write_hdf5(path: Union[str, os.PathLike], images: np.ndarray, names: Optional[Sequence[str]] = None,
               dataset: str = "images", attrs: Optional[Dict[str, object]] = None) -> None:
    """Write images for Laminar's ImageInput (`path: FILE.h5`, `dataset: images`): a float32 dataset
    of shape (N, ny, nx) (or (N, ny, nx, nf)); with `names`, a dataset "names" of N UTF-8 strings and
    the same list as the attribute `names` of the images dataset. `attrs` are stored on the images
    dataset (e.g. {"crop": 256, "short_side": 512}). Float data is read by ImageInput as is (only
    8-bit integer data is scaled by 1/255), so [0, 1] images stay in [0, 1]."""
    import h5py

    a = np.asarray(images, dtype=np.float32)
    if a.ndim not in (3, 4) or 0 in a.shape:
        raise ValueError(f"images must have shape (N, ny, nx) or (N, ny, nx, nf), got {a.shape}")
    if names is not None and len(names) != a.shape[0]:
        raise ValueError(f"{a.shape[0]} images but {len(names)} names")
    str_t = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        d = f.create_dataset(dataset, data=a)
        if names is not None:
            f.create_dataset("names", data=np.array(list(names), dtype=object), dtype=str_t)
            d.attrs.create("names", np.array(list(names), dtype=object), dtype=str_t)
        for k, v in (attrs or {}).items():
            d.attrs[k] = v


def read_hdf5(path: Union[str, os.PathLike], dataset: str = "images") -> ImageSet:
    """What write_hdf5 wrote: ImageSet(images float64, names) (names "0".."N-1" when absent)."""
    import h5py

    with h5py.File(path, "r") as f:
        a = np.asarray(f[dataset], dtype=np.float64)
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["names"][()]] if "names" in f \
            else [str(i) for i in range(a.shape[0])]
    return ImageSet(a, names)
