"""Does predict give a photo and its enlarged copy the same class? (issue 21, point 4)

    python examples/predict_agreement.py --data ../shared/data/ahe64
    python examples/predict_agreement.py --data ../shared/data/ahe64 --checkpoint runs/ahe/best.npz

A user's photo is rarely a 64 px JPEG: it has been resized, often enlarged from a
small original and saved as PNG. This takes up to 100 photos of the validation
split (grouped, seed 0, as examples/train_ahe.py makes it), enlarges each 3x with
bicubic resampling, saves it as PNG, and compares:

* how far the enlarged copy, shrunk back by each resampling filter, lands from the
  original 64 px pixels (mean absolute difference, grey levels); the decode path
  (minicnn/data/decode.py, resize_to_square) uses Lanczos;
* with --checkpoint: how many of the photos get the same top class from
  ``python -m minicnn predict`` as JPEG and as enlarged PNG.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
from PIL import Image

from minicnn.backend import command_line_backend
from minicnn.cli.arguments import integer, number
from minicnn.cli.exits import run_command
from minicnn.data import find_data_dir, load_dataset, train_validation_split
from minicnn.predict.classifier import Classifier
from minicnn.predict.photos import predict_paths

FILTERS = ("BILINEAR", "BICUBIC", "BOX", "LANCZOS")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default=None, help="dataset root (with train/); else $AHE64_DIR")
    parser.add_argument("--checkpoint", default=None, help="also count predict's agreement")
    parser.add_argument("--photos", type=integer(at_least=1, at_most=1013), default=100)
    parser.add_argument("--factor", type=number(greater_than=1), default=3.0,
                        help="how much each photo is enlarged")
    parser.add_argument("--backend", default=command_line_backend(),
                        choices=["numpy", "numba", "cupy"])
    return parser


def validation_photos(root, count):
    """Paths of ``count`` validation JPEGs (grouped split, seed 0), in a seeded order."""
    dataset = load_dataset(root, split="train", image_size=64, verbose=False)
    _, val_set = train_validation_split(dataset, 0.1, seed=0)
    chosen = np.random.default_rng(0).permutation(len(val_set))[:count]
    split_folder = os.path.join(root, "train")
    return [os.path.join(split_folder, val_set.files[index]) for index in chosen]


def enlarged_copies(photos, factor, folder):
    """Each photo enlarged ``factor`` x (bicubic) as a PNG in ``folder`` -> their paths."""
    paths = []
    for number, photo in enumerate(photos):
        with Image.open(photo) as image:
            image = image.convert("RGB")
            enlarged = image.resize((round(image.width * factor), round(image.height * factor)),
                                    Image.Resampling.BICUBIC)
        paths.append(os.path.join(folder, f"{number}.png"))
        enlarged.save(paths[-1])
    return paths


def top_classes(classifier, paths):
    return [result["top"][0]["class"] for result in predict_paths(classifier, paths, top=1)]


def measure(arguments):
    root = find_data_dir(arguments.data)
    photos = validation_photos(root, arguments.photos)
    with tempfile.TemporaryDirectory() as folder:
        copies = enlarged_copies(photos, arguments.factor, folder)
        print(f"{len(photos)} validation photos, enlarged {arguments.factor:g}x (bicubic) as PNG")
        print("| shrink filter | mean difference from the original (grey levels) |")
        print("|---|---|")
        for name in FILTERS:
            differences = []
            for photo, copy in zip(photos, copies):
                with Image.open(photo) as original, Image.open(copy) as enlarged:
                    back = enlarged.resize(original.size, getattr(Image.Resampling, name))
                    differences.append(np.abs(np.asarray(back, dtype=np.float64)
                                              - np.asarray(original.convert("RGB"))).mean())
            print(f"| {name.lower()} | {np.mean(differences):.2f} |")
        if arguments.checkpoint:
            classifier = Classifier.load(arguments.checkpoint, backend=arguments.backend)
            same = sum(a == b for a, b in zip(top_classes(classifier, photos),
                                              top_classes(classifier, copies)))
            print(f"predict agrees on {same} of {len(photos)} photos ({arguments.checkpoint})")
    return 0


def main(argv=None):
    arguments = build_parser().parse_args(argv)
    return run_command(lambda: measure(arguments), data_advice=True)


if __name__ == "__main__":
    sys.exit(main())
