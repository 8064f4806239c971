"""Tests for minicnn.data: loading, caching, splitting, preprocessing, augmentation, batching.

Most tests build a tiny dataset in tmp_path with PIL: three classes created in
non-sorted order, each image a flat colour of its own, so a test can check
that every file landed under the right label with the right pixels. One test
loads the real AHE64 training set when it is present next to the repository.

No test writes to the user's real cache: an autouse fixture points
$MINICNN_CACHE_DIR at tmp_path, except for the real-data test, which uses the
cache folder the user had when this file was imported.
"""
import collections
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minicnn.data import (DataError, ImageDataset, augment_batch, channel_stats,
                          default_cache_dir, find_data_dir, iterate_batches, list_splits,
                          load_dataset, normalize, stratified_split)
from minicnn.data import preprocessing

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "ahe64"
USER_CACHE_DIR = default_cache_dir()   # read before any test changes the environment

NON_ASCII_NAME = "Sé_ñ_ü.jpg"
CORRUPT_NAME = "broken.jpg"
JPEG_TOLERANCE = 4   # a flat colour survives JPEG at quality 95 to within a few levels


@pytest.fixture(autouse=True)
def isolated_cache(monkeypatch, tmp_path):
    """Send every default-cache write of a test to its own temporary folder."""
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "default-cache"))


# --- the tiny fixture dataset ------------------------------------------------------------

def write_jpeg(path, colour, size=(64, 64), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, format="JPEG", quality=95)


def make_dataset(split_dir):
    """Write three classes of small JPEGs; return {relative file name: expected RGB colour}.

    Classes are created in the order zebra, apple, mango, so sorted order (apple 0,
    mango 1, zebra 2) differs from creation order. Quirks: a non-ASCII name, a
    grayscale image, a 100x80 image, a hidden .DS_Store, and a byte-identical copy of
    an apple image filed under zebra.
    """
    base_colours = {"zebra": (30, 30, 200), "apple": (200, 30, 30), "mango": (30, 200, 30)}
    expected = {}
    for class_name, (red, green, blue) in base_colours.items():
        for number in range(3):
            colour = (red, green + 20 * number, blue)   # distinct bytes per image
            write_jpeg(split_dir / class_name / f"{class_name}_{number}.jpg", colour)
            expected[f"{class_name}/{class_name}_{number}.jpg"] = colour
    write_jpeg(split_dir / "apple" / NON_ASCII_NAME, (220, 90, 90))
    expected[f"apple/{NON_ASCII_NAME}"] = (220, 90, 90)
    write_jpeg(split_dir / "mango" / "gray.jpg", 128, mode="L")
    expected["mango/gray.jpg"] = (128, 128, 128)
    write_jpeg(split_dir / "zebra" / "wide.jpg", (40, 40, 160), size=(100, 80))
    expected["zebra/wide.jpg"] = (40, 40, 160)
    shutil.copyfile(split_dir / "apple" / "apple_0.jpg", split_dir / "zebra" / "copy_of_apple_0.jpg")
    expected["zebra/copy_of_apple_0.jpg"] = expected["apple/apple_0.jpg"]
    (split_dir / "apple" / ".DS_Store").write_bytes(b"\x00\x01 not an image")
    return expected


@pytest.fixture
def dataset_root(tmp_path):
    """(root folder holding train/, {file: colour})."""
    root = tmp_path / "ahe"
    return root, make_dataset(root / "train")


def load(path, **options):
    return load_dataset(path, verbose=False, **options)


def add_corrupt_file(class_dir):
    class_dir.mkdir(parents=True, exist_ok=True)
    class_dir.joinpath(CORRUPT_NAME).write_bytes(np.random.default_rng(0).bytes(500))


def zip_folder(folder, zip_path, top_level):
    """Zip ``folder`` with every member under ``top_level/``, like a downloaded archive."""
    with zipfile.ZipFile(zip_path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            archive.write(file, f"{top_level}/{file.relative_to(folder).as_posix()}")


def assert_same_dataset(actual, expected):
    np.testing.assert_array_equal(actual.images, expected.images)
    np.testing.assert_array_equal(actual.labels, expected.labels)
    assert actual.class_names == expected.class_names
    assert actual.files == expected.files
    assert actual.digests == expected.digests


# --- loading a folder ------------------------------------------------------------------

def test_class_indices_follow_sorted_folder_names(dataset_root):
    root, expected = dataset_root
    dataset = load(root)
    class_names = sorted({name.split("/")[0] for name in expected})
    assert dataset.class_names == class_names
    assert sorted(dataset.files) == sorted(expected)
    for file, label in zip(dataset.files, dataset.labels):
        assert dataset.class_names[label] == file.split("/")[0]
    assert dataset.images.dtype == np.uint8 and dataset.images.shape == (len(expected), 3, 64, 64)
    assert dataset.labels.dtype == np.int64


def test_every_image_has_its_files_pixels(dataset_root):
    """Covers grayscale -> RGB (gray.jpg), resizing (wide.jpg) and the non-ASCII name."""
    root, expected = dataset_root
    dataset = load(root)
    for file, image in zip(dataset.files, dataset.images):
        colour = image.reshape(3, -1).mean(axis=1)
        np.testing.assert_allclose(colour, expected[file], atol=JPEG_TOLERANCE, err_msg=file)
    assert f"apple/{NON_ASCII_NAME}" in dataset.files


def test_report_counts_resized_converted_and_skipped_files(dataset_root):
    root, expected = dataset_root
    add_corrupt_file(root / "train" / "mango")
    with pytest.warns(UserWarning, match=CORRUPT_NAME) as caught:
        dataset = load(root)
    report = dataset.report
    assert (report.images, report.classes) == (len(expected), 3)
    assert (report.resized, report.converted_to_rgb) == (1, 1)
    assert len(report.skipped) == 1 and CORRUPT_NAME in report.skipped[0]
    assert f"mango/{CORRUPT_NAME}" not in dataset.files
    assert not any("DS_Store" in str(warning.message) for warning in caught)


def test_macos_metadata_folders_are_not_classes(dataset_root):
    """Unzipping an archive made on a Mac leaves __MACOSX/ (with ._ files) beside the classes."""
    root, expected = dataset_root
    (root / "train" / "__MACOSX" / "apple").mkdir(parents=True)
    (root / "train" / "__MACOSX" / "apple" / "._apple_0.jpg").write_bytes(b"resource fork")
    dataset = load(root)
    assert len(dataset.class_names) == 3 and len(dataset) == len(expected)


def test_a_non_image_file_is_skipped_with_a_warning(dataset_root):
    root, expected = dataset_root
    (root / "train" / "apple" / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="apple/notes.txt"):
        dataset = load(root)
    assert len(dataset) == len(expected)


def test_entries_that_are_not_files_are_listed_as_skipped(dataset_root):
    """Issue 15: a symbolic link loop was a traceback; dangling links and FIFOs were ignored
    without being listed."""
    root, expected = dataset_root
    apple = root / "train" / "apple"
    os.symlink("loop", apple / "loop")
    os.symlink("missing.jpg", apple / "dangling.jpg")
    os.mkfifo(root / "train" / "mango" / "pipe.jpg")
    with pytest.warns(UserWarning) as caught:
        dataset = load(root)
    assert len(dataset) == len(expected)
    assert dataset.report.skipped == ["apple/dangling.jpg (a dangling symbolic link)",
                                      "apple/loop (a symbolic link loop)",
                                      "mango/pipe.jpg (a FIFO)"]
    assert [str(warning.message) for warning in caught] == [
        f"skipped {entry}" for entry in dataset.report.skipped]
    with pytest.warns(UserWarning):
        assert load(root).report.cache == "hit"
    (apple / "dangling.jpg").unlink()
    with pytest.warns(UserWarning):
        again = load(root)
    assert again.report.cache == "miss" and len(again.report.skipped) == 2


def test_a_symbolic_link_loop_beside_the_class_folders_is_no_class(dataset_root):
    root, expected = dataset_root
    os.symlink("elsewhere", root / "train" / "elsewhere")
    assert load(root).class_names == ["apple", "mango", "zebra"]


def test_a_class_folder_name_that_is_not_utf8_is_a_clear_error(dataset_root):
    """Issue 15: it crashed at the very end of training, writing the report."""
    root, _ = dataset_root
    folder = os.path.join(os.fsencode(root / "train"), b"caf\xe9")
    os.mkdir(folder)
    shutil.copyfile(root / "train" / "apple" / "apple_0.jpg", os.path.join(folder, b"x.jpg"))
    with pytest.raises(DataError, match=r"class folder name b'caf\\xe9' in .*train is not valid "
                                        r"UTF-8: rename the folder"):
        load(root)


def test_verbose_prints_the_one_line_summary(dataset_root, capsys):
    root, expected = dataset_root
    dataset = load_dataset(root, cache_dir=root.parent / "cache")
    printed = capsys.readouterr().out.strip()
    assert printed == str(dataset.report)
    assert f"{len(expected)} images" in printed and "cache miss" in printed


def test_a_split_folder_can_be_passed_directly(dataset_root):
    root, _ = dataset_root
    assert_same_dataset(load(root / "train"), load(root))


def test_split_picks_the_subfolder(dataset_root):
    root, _ = dataset_root
    write_jpeg(root / "test" / "apple" / "only.jpg", (10, 20, 30))
    test_set = load(root, split="test")
    assert test_set.files == ["apple/only.jpg"] and test_set.class_names == ["apple"]


def test_image_size_resizes_everything(dataset_root):
    root, expected = dataset_root
    dataset = load(root, image_size=32)
    assert dataset.images.shape == (len(expected), 3, 32, 32)
    assert dataset.report.resized == len(expected)


def test_subset_picks_samples_in_order(dataset_root):
    root, _ = dataset_root
    dataset = load(root)
    picked = dataset.subset([3, 0])
    assert isinstance(picked, ImageDataset) and len(picked) == 2
    assert picked.files == [dataset.files[3], dataset.files[0]]
    np.testing.assert_array_equal(picked.images, dataset.images[[3, 0]])
    np.testing.assert_array_equal(picked.labels, dataset.labels[[3, 0]])
    assert picked.digests == [dataset.digests[3], dataset.digests[0]]


def test_image_dataset_rejects_inconsistent_fields():
    images = np.zeros((2, 3, 4, 4), dtype=np.uint8)
    fields = dict(labels=np.zeros(2, np.int64), class_names=["a"], files=["a/1", "a/2"],
                  digests=["x", "y"], source="test")
    ImageDataset(images=images, **fields)   # consistent: fine
    with pytest.raises(ValueError, match="differ in length"):
        ImageDataset(images=images, **{**fields, "files": ["a/1"]})
    with pytest.raises(ValueError, match="uint8"):
        ImageDataset(images=images.astype(np.float32), **fields)


def test_byte_identical_files_share_a_digest(dataset_root):
    root, _ = dataset_root
    dataset = load(root)
    digest_of = dict(zip(dataset.files, dataset.digests))
    assert digest_of["apple/apple_0.jpg"] == digest_of["zebra/copy_of_apple_0.jpg"]
    assert len(set(dataset.digests)) == len(dataset) - 1


# --- errors ----------------------------------------------------------------------------

def assert_helpful(error, path):
    message = str(error.value)
    assert str(path) in message
    assert "Architectural Heritage Elements Image64" in message
    assert "--data" in message and "AHE64_DIR" in message


def test_missing_root_names_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as error:
        load(missing)
    assert_helpful(error, missing)


def test_empty_root_names_the_path(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty") as error:
        load(tmp_path / "empty")
    assert_helpful(error, tmp_path / "empty")


def test_root_without_class_folders_names_the_path(tmp_path):
    write_jpeg(tmp_path / "loose" / "image.jpg", (1, 2, 3))   # an image, but no class folder
    with pytest.raises(DataError, match="no 'train' folder") as error:
        load(tmp_path / "loose")
    assert_helpful(error, tmp_path / "loose")


def test_root_with_only_another_split_names_what_it_found(dataset_root):
    root, _ = dataset_root
    (root / "train").rename(root / "test")
    with pytest.raises(DataError, match="no 'train' folder.*subfolders: test") as error:
        load(root)
    assert_helpful(error, root)


def test_empty_split_folder_has_no_class_folders(tmp_path):
    (tmp_path / "root" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="no class folders") as error:
        load(tmp_path / "root")
    assert_helpful(error, tmp_path / "root" / "train")


def test_empty_class_folder_is_named(dataset_root):
    root, _ = dataset_root
    (root / "train" / "empty_class").mkdir()
    with pytest.raises(DataError, match="empty_class") as error:
        load(root)
    assert_helpful(error, root / "train")


def test_class_with_only_unreadable_files_is_an_error(dataset_root):
    root, _ = dataset_root
    add_corrupt_file(root / "train" / "broken_class")
    with pytest.raises(DataError, match="broken_class"):
        load(root)


def test_a_file_that_is_not_a_zip_is_an_error(tmp_path):
    not_a_zip = tmp_path / "data.zip"
    not_a_zip.write_text("hello")
    with pytest.raises(DataError, match="not a .zip") as error:
        load(not_a_zip)
    assert_helpful(error, not_a_zip)


def test_bad_image_size_is_rejected(dataset_root):
    with pytest.raises(ValueError, match="image_size"):
        load(dataset_root[0], image_size=0)


# --- loading a zip -----------------------------------------------------------------------

def test_list_splits_names_the_split_folders_of_a_root_or_zip(dataset_root, tmp_path):
    root, _ = dataset_root
    shutil.copytree(root / "train", root / "test")
    (root / "val").mkdir()   # empty: not a split
    assert list_splits(root) == ["test", "train"]
    assert list_splits(root / "test") == []
    zip_folder(root, tmp_path / "ahe.zip", "ahe64")
    assert list_splits(tmp_path / "ahe.zip") == ["test", "train"]


def test_zip_gives_the_same_arrays_as_the_folder(dataset_root, tmp_path):
    root, _ = dataset_root
    zip_path = tmp_path / "download.zip"
    zip_folder(root, zip_path, top_level="ahe64-download")
    from_zip = load(zip_path)
    assert_same_dataset(from_zip, load(root))
    assert str(zip_path) in from_zip.source


def test_zip_without_split_level(dataset_root, tmp_path):
    root, _ = dataset_root
    zip_path = tmp_path / "classes.zip"
    zip_folder(root / "train", zip_path, top_level="some/nested/folder")
    assert_same_dataset(load(zip_path), load(root))


def test_stray_files_elsewhere_in_the_zip_are_ignored(dataset_root, tmp_path):
    """The folder holding the most images wins; macOS metadata is never data."""
    root, _ = dataset_root
    zip_path = tmp_path / "classes.zip"
    zip_folder(root / "train", zip_path, top_level="top")
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr("docs/readme.txt", "a shallower folder than top/<class>/")
        archive.writestr("__MACOSX/top/apple/._apple_0.jpg", "resource fork")
    assert_same_dataset(load(zip_path), load(root))


def test_zip_without_the_requested_split_is_an_error(dataset_root, tmp_path):
    root, _ = dataset_root
    zip_path = tmp_path / "download.zip"
    zip_folder(root, zip_path, top_level="top")
    with pytest.raises(DataError, match="no 'test' folder") as error:
        load(zip_path, split="test")
    assert_helpful(error, zip_path)


def test_zip_with_an_empty_class_folder_names_it(dataset_root, tmp_path):
    root, _ = dataset_root
    (root / "train" / "empty_class").mkdir()
    zip_path = tmp_path / "download.zip"
    zip_folder(root, zip_path, top_level="top")
    with pytest.raises(DataError, match="empty_class"):
        load(zip_path)


def write_legacy_zip(zip_path, image_path, raw_name):
    """A one-member zip as old zip tools write it: the name's raw bytes, no UTF-8 flag.
    (Written under an ASCII placeholder of the same length, then the bytes are swapped.)"""
    placeholder = b"p" * len(raw_name)
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.write(image_path, placeholder.decode())
    data = zip_path.read_bytes()
    assert data.count(placeholder) == 2   # the local header and the central directory
    zip_path.write_bytes(data.replace(placeholder, raw_name))


@pytest.mark.parametrize("name, encoding", [(f"apple/{NON_ASCII_NAME}", "utf-8"),
                                            ("apple/café.jpg", "cp437")])
def test_zip_names_without_the_utf8_flag_are_decoded(tmp_path, name, encoding):
    """UTF-8 bytes without the flag are repaired; real cp437 names stay as zipfile reads them."""
    write_jpeg(tmp_path / "image.jpg", (200, 30, 30))
    zip_path = tmp_path / "legacy.zip"
    write_legacy_zip(zip_path, tmp_path / "image.jpg", name.encode(encoding))
    assert load(zip_path).files == [name]


# --- the cache ---------------------------------------------------------------------------

def cache_files(cache_dir):
    return sorted(cache_dir.glob("*.npz"))


def test_second_load_hits_the_cache(dataset_root, tmp_path):
    root, _ = dataset_root
    cache_dir = tmp_path / "cache"
    first = load(root, cache_dir=cache_dir)
    second = load(root, cache_dir=cache_dir)
    assert (first.report.cache, second.report.cache) == ("miss", "hit")
    assert sorted(cache_dir.iterdir()) == cache_files(cache_dir)   # one file, no temporaries
    assert len(cache_files(cache_dir)) == 1
    assert_same_dataset(second, first)
    assert second.source == first.source
    assert (second.report.resized, second.report.converted_to_rgb) == (1, 1)


def test_cache_hit_repeats_the_skipped_file_warning(dataset_root, tmp_path):
    root, _ = dataset_root
    add_corrupt_file(root / "train" / "mango")
    for expected_cache in ("miss", "hit"):
        with pytest.warns(UserWarning, match=CORRUPT_NAME):
            dataset = load(root, cache_dir=tmp_path / "cache")
        assert dataset.report.cache == expected_cache


def test_touching_a_file_invalidates_the_cache(dataset_root, tmp_path):
    root, _ = dataset_root
    cache_dir = tmp_path / "cache"
    load(root, cache_dir=cache_dir)
    touched = root / "train" / "apple" / "apple_1.jpg"
    status = touched.stat()
    os.utime(touched, ns=(status.st_atime_ns, status.st_mtime_ns + 5 * 10**9))
    assert load(root, cache_dir=cache_dir).report.cache == "miss"
    assert load(root, cache_dir=cache_dir).report.cache == "hit"
    assert len(cache_files(cache_dir)) == 1   # rewritten in place, not piled up


def test_adding_a_file_invalidates_the_cache(dataset_root, tmp_path):
    root, expected = dataset_root
    cache_dir = tmp_path / "cache"
    load(root, cache_dir=cache_dir)
    write_jpeg(root / "train" / "mango" / "new.jpg", (1, 2, 3))
    reloaded = load(root, cache_dir=cache_dir)
    assert reloaded.report.cache == "miss"
    assert len(reloaded) == len(expected) + 1 and "mango/new.jpg" in reloaded.files


def test_changing_the_zip_invalidates_its_cache(dataset_root, tmp_path):
    root, _ = dataset_root
    cache_dir, zip_path = tmp_path / "cache", tmp_path / "download.zip"
    zip_folder(root, zip_path, top_level="top")
    assert load(zip_path, cache_dir=cache_dir).report.cache == "miss"
    assert load(zip_path, cache_dir=cache_dir).report.cache == "hit"
    write_jpeg(root / "train" / "mango" / "new.jpg", (1, 2, 3))
    zip_folder(root, zip_path, top_level="top")
    assert load(zip_path, cache_dir=cache_dir).report.cache == "miss"


def test_corrupt_cache_is_ignored_with_a_warning(dataset_root, tmp_path):
    root, _ = dataset_root
    cache_dir = tmp_path / "cache"
    fresh = load(root, cache_dir=cache_dir)
    cache_file, = cache_files(cache_dir)
    cache_file.write_bytes(cache_file.read_bytes()[:1000])   # truncated, as by a full disk
    with pytest.warns(UserWarning, match="unreadable cache"):
        rebuilt = load(root, cache_dir=cache_dir)
    assert rebuilt.report.cache == "miss"
    assert_same_dataset(rebuilt, fresh)
    assert load(root, cache_dir=cache_dir).report.cache == "hit"   # and it was rewritten


def test_an_unwritable_cache_is_a_warning_not_an_error(dataset_root, tmp_path):
    root, expected = dataset_root
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not write the cache"):
        dataset = load(root, cache_dir=not_a_folder)
    assert len(dataset) == len(expected)


def test_use_cache_false_neither_reads_nor_writes(dataset_root, tmp_path):
    root, _ = dataset_root
    dataset = load(root, use_cache=False)
    assert dataset.report.cache == "off"
    assert not (tmp_path / "default-cache").exists()


def test_default_cache_dir_follows_the_environment(dataset_root, tmp_path, monkeypatch):
    root, _ = dataset_root
    load(root)
    assert len(cache_files(tmp_path / "default-cache")) == 1   # $MINICNN_CACHE_DIR
    monkeypatch.delenv("MINICNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "minicnn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "minicnn"


# --- find_data_dir -----------------------------------------------------------------------

def test_find_data_dir_prefers_the_command_line(tmp_path, monkeypatch):
    (tmp_path / "cli").mkdir()
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("AHE64_DIR", str(tmp_path / "env"))
    assert find_data_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    assert find_data_dir() == tmp_path / "env"


def test_find_data_dir_falls_back_to_data_ahe64(tmp_path, monkeypatch):
    monkeypatch.delenv("AHE64_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "ahe64").mkdir(parents=True)
    assert find_data_dir().resolve() == (tmp_path / "data" / "ahe64").resolve()


@pytest.mark.parametrize("origin", ["--data", "$AHE64_DIR", "default"])
def test_find_data_dir_says_where_it_looked(tmp_path, monkeypatch, origin):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AHE64_DIR", raising=False)
    missing = tmp_path / "data" / "ahe64"   # also where the default points, from tmp_path
    if origin == "$AHE64_DIR":
        monkeypatch.setenv("AHE64_DIR", str(missing))
    with pytest.raises(DataError) as error:
        find_data_dir(str(missing) if origin == "--data" else None)
    assert_helpful(error, missing)
    assert origin in str(error.value)


# --- stratified_split --------------------------------------------------------------------

IMBALANCED_LABELS = np.repeat(np.arange(4), [57, 23, 120, 9])


def test_split_is_disjoint_complete_and_sorted():
    train, val = stratified_split(IMBALANCED_LABELS, 0.2, seed=3)
    assert train.dtype == val.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(len(IMBALANCED_LABELS)))


@pytest.mark.parametrize("use_groups", [False, True])
def test_split_is_stratified(use_groups):
    labels = IMBALANCED_LABELS
    groups = None
    if use_groups:   # a few duplicate pairs across classes, as in AHE64: samples 100-107 (class 2)
        groups = np.arange(len(labels))   # repeat samples 0-7 (class 0)
        groups[100:108] = np.arange(8)
    class_sizes = np.bincount(labels)
    for seed in range(10):
        _, val = stratified_split(labels, 0.2, seed=seed, groups=groups)
        val_sizes = np.bincount(labels[val], minlength=len(class_sizes))
        assert np.all(np.abs(val_sizes - class_sizes * 0.2) <= 1), (val_sizes, class_sizes * 0.2)


def test_split_is_seeded():
    first = stratified_split(IMBALANCED_LABELS, 0.2, seed=5)
    again = stratified_split(IMBALANCED_LABELS, 0.2, seed=5)
    other = stratified_split(IMBALANCED_LABELS, 0.2, seed=6)
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_split_keeps_each_group_on_one_side():
    labels = IMBALANCED_LABELS
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 60, len(labels))   # 60 groups of ~3.5 samples, mixed classes
    for seed in range(5):
        _, val = stratified_split(labels, 0.3, seed=seed, groups=groups)
        in_val = np.isin(np.arange(len(labels)), val)
        for group in np.unique(groups):
            assert len(set(in_val[groups == group])) == 1, f"group {group} split, seed {seed}"


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_split_rejects_a_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        stratified_split(IMBALANCED_LABELS, fraction)


@pytest.mark.parametrize("fraction, side", [(0.01, "validation"), (0.99, "training")])
def test_split_refuses_to_leave_a_side_empty(fraction, side):
    """Issue 15: an empty validation split was a traceback after a whole epoch."""
    with pytest.raises(DataError, match=f"fraction of {fraction} of these 12 images leaves the "
                                        f"{side} split empty"):
        stratified_split(np.arange(12) % 3, fraction)


def test_split_rejects_groups_of_the_wrong_length():
    with pytest.raises(ValueError, match="groups"):
        stratified_split(IMBALANCED_LABELS, 0.1, groups=[0, 1])


# --- channel_stats and normalize ---------------------------------------------------------

def random_images(count=37, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 3, 8, 8), dtype=np.uint8)


def test_channel_stats_match_a_float64_computation(monkeypatch):
    monkeypatch.setattr(preprocessing, "STATS_CHUNK", 10)   # 37 images: four chunks, one partial
    images = random_images()
    mean, std = channel_stats(images)
    scaled = images.astype(np.float64) / 255
    assert mean.dtype == std.dtype == np.float32 and mean.shape == std.shape == (3,)
    np.testing.assert_allclose(mean, scaled.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, scaled.std(axis=(0, 2, 3)), rtol=1e-6)


def test_normalize_matches_a_float64_computation():
    images = random_images()
    mean, std = np.array([0.4, 0.5, 0.6]), np.array([0.2, 0.25, 0.3])
    normalized = normalize(images, mean, std)
    expected = (images / 255.0 - mean[:, None, None]) / std[:, None, None]
    assert normalized.dtype == np.float32 and normalized.shape == images.shape
    np.testing.assert_allclose(normalized, expected, atol=1e-5)


def test_normalized_training_images_have_zero_mean_unit_std():
    images = random_images()
    normalized = normalize(images, *channel_stats(images))
    np.testing.assert_allclose(normalized.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(normalized.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_a_constant_channel_does_not_divide_by_zero():
    images = random_images()
    images[:, 1] = 77
    mean, std = channel_stats(images)
    assert std[1] == np.float32(preprocessing.MIN_STD)
    assert np.all(np.isfinite(normalize(images, mean, std)))


# --- augment_batch -----------------------------------------------------------------------

def counting_batch(count=64, channels=3, size=10):
    """Every value distinct and non-zero, so a shifted or flipped copy is recognisable."""
    values = np.arange(1, count * channels * size * size + 1, dtype=np.float32)
    return values.reshape(count, channels, size, size)


def shifted_reference(image, shift_y, shift_x):
    """Pixel by pixel: out[:, y, x] = image[:, y + shift_y, x + shift_x], zero outside."""
    out = np.zeros_like(image)
    _, height, width = image.shape
    for y in range(height):
        for x in range(width):
            if 0 <= y + shift_y < height and 0 <= x + shift_x < width:
                out[:, y, x] = image[:, y + shift_y, x + shift_x]
    return out


def test_augmentation_is_deterministic_given_the_generator():
    batch = counting_batch()
    options = dict(flip=True, max_shift=3, color_jitter=0.2)
    first = augment_batch(batch, np.random.default_rng(7), **options)
    again = augment_batch(batch, np.random.default_rng(7), **options)
    other = augment_batch(batch, np.random.default_rng(8), **options)
    assert first.dtype == np.float32 and first.shape == batch.shape
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_augmentation_never_mutates_its_input():
    batch = counting_batch()
    original = batch.copy()
    augmented = augment_batch(batch, np.random.default_rng(0), max_shift=0, color_jitter=0.3)
    np.testing.assert_array_equal(batch, original)
    assert not np.shares_memory(augmented, batch)


def test_flip_mirrors_some_samples_left_right():
    batch = counting_batch()
    augmented = augment_batch(batch, np.random.default_rng(1), flip=True, max_shift=0)
    flipped = np.array([np.array_equal(out, image[..., ::-1]) for out, image in zip(augmented, batch)])
    unchanged = np.array([np.array_equal(out, image) for out, image in zip(augmented, batch)])
    assert np.all(flipped ^ unchanged)
    assert 0 < flipped.sum() < len(batch)


def test_shift_matches_a_pixel_by_pixel_reference():
    batch, max_shift = counting_batch(), 2
    augmented = augment_batch(batch, np.random.default_rng(2), flip=False, max_shift=max_shift)
    offsets = range(-max_shift, max_shift + 1)
    seen = set()
    for out, image in zip(augmented, batch):
        matches = [(dy, dx) for dy in offsets for dx in offsets
                   if np.array_equal(out, shifted_reference(image, dy, dx))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 10   # 64 samples spread over the 25 possible shifts


def test_no_flip_and_no_shift_is_the_identity():
    batch = counting_batch()
    np.testing.assert_array_equal(augment_batch(batch, np.random.default_rng(0), flip=False,
                                                max_shift=0), batch)


def test_color_jitter_scales_contrast_and_offsets_brightness_within_bounds():
    batch, strength = counting_batch() / 1000.0, 0.25
    augmented = augment_batch(batch, np.random.default_rng(3), flip=False, max_shift=0,
                              color_jitter=strength)
    inputs, outputs = batch.reshape(len(batch), -1), augmented.reshape(len(batch), -1)
    input_deviation = inputs - inputs.mean(axis=1, keepdims=True)
    output_deviation = outputs - outputs.mean(axis=1, keepdims=True)
    contrast = (output_deviation * input_deviation).sum(axis=1) / np.square(input_deviation).sum(axis=1)
    brightness = outputs.mean(axis=1) - inputs.mean(axis=1)
    np.testing.assert_allclose(output_deviation, contrast[:, None] * input_deviation, atol=1e-4)
    assert np.all(np.abs(contrast - 1) <= strength + 1e-5) and contrast.std() > 0.05
    assert np.all(np.abs(brightness) <= strength + 1e-5) and brightness.std() > 0.05


@pytest.mark.parametrize("options", [dict(max_shift=-1), dict(max_shift=1.5), dict(color_jitter=1.0)])
def test_augmentation_rejects_bad_options(options):
    with pytest.raises(ValueError):
        augment_batch(counting_batch(4), np.random.default_rng(0), **options)


# --- iterate_batches ---------------------------------------------------------------------

def test_each_epoch_visits_every_index_once_in_a_new_order():
    rng = np.random.default_rng(0)
    epochs = [list(iterate_batches(103, 10, rng)) for _ in range(2)]
    for batches in epochs:
        assert [len(batch) for batch in batches] == [10] * 10 + [3]
        assert all(batch.dtype == np.int64 for batch in batches)
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(103))
    assert not np.array_equal(np.concatenate(epochs[0]), np.concatenate(epochs[1]))


def test_batches_follow_the_seed():
    first = np.concatenate(list(iterate_batches(50, 8, np.random.default_rng(4))))
    again = np.concatenate(list(iterate_batches(50, 8, np.random.default_rng(4))))
    np.testing.assert_array_equal(first, again)


def test_drop_last_and_no_shuffle():
    batches = list(iterate_batches(23, 5, shuffle=False, drop_last=True))
    np.testing.assert_array_equal(np.concatenate(batches), np.arange(20))
    assert all(len(batch) == 5 for batch in batches)


def test_shuffling_needs_a_generator():
    with pytest.raises(ValueError, match="rng"):
        iterate_batches(10, 2)


# --- the real dataset --------------------------------------------------------------------

REAL_CLASS_COUNTS = {"altar": 828, "apse": 505, "bell_tower": 1057, "column": 1914,
                     "dome(inner)": 589, "dome(outer)": 1175, "flying_buttress": 405,
                     "gargoyle": 1562, "stained_glass": 998, "vault": 1097}


def test_real_ahe64_training_set():
    """Counts from the dataset's README; uses (and fills) the user's real cache folder."""
    if not (REAL_DATA_DIR / "train").is_dir():
        pytest.skip(f"the AHE64 dataset is not at {REAL_DATA_DIR}")
    dataset = load(REAL_DATA_DIR, cache_dir=USER_CACHE_DIR)
    assert len(dataset) == 10_130 == sum(REAL_CLASS_COUNTS.values())
    assert dataset.class_names == sorted(REAL_CLASS_COUNTS)
    counts = collections.Counter(dataset.class_names[label] for label in dataset.labels)
    assert counts == REAL_CLASS_COUNTS
    assert dataset.report.converted_to_rgb == 1 and dataset.report.resized == 0
    assert not dataset.report.skipped

    names_on_disk = [f"{folder.name}/{name}" for folder in (REAL_DATA_DIR / "train").iterdir()
                     for name in os.listdir(folder)]
    assert sorted(dataset.files) == sorted(names_on_disk)   # non-ASCII names included

    members = collections.defaultdict(list)
    for index, digest in enumerate(dataset.digests):
        members[digest].append(index)
    duplicate_groups = [indices for indices in members.values() if len(indices) > 1]
    assert len(duplicate_groups) == 4
    assert sum(len(set(dataset.labels[indices])) > 1 for indices in duplicate_groups) == 3
    _, val = stratified_split(dataset.labels, 0.1, seed=0, groups=dataset.digests)
    in_val = np.isin(np.arange(len(dataset)), val)
    assert all(len(set(in_val[indices])) == 1 for indices in duplicate_groups)

    again = load(REAL_DATA_DIR, cache_dir=USER_CACHE_DIR)
    assert again.report.cache == "hit"
    assert_same_dataset(again, dataset)


class FixedScale:
    """A stand-in rng whose uniform draws are one fixed zoom factor."""

    def __init__(self, scale):
        self.scale = scale

    def uniform(self, low, high, size):
        return np.full(size, self.scale)


def test_zoom_by_one_is_the_identity_and_by_two_magnifies_a_ramp():
    from minicnn.data.augmentation import random_zoom
    x = np.random.default_rng(0).standard_normal((3, 2, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(random_zoom(x, FixedScale(1.0), 0.2), x)
    ramp = np.tile(np.arange(8, dtype=np.float32), (1, 1, 8, 1))      # value = column
    np.testing.assert_allclose(random_zoom(ramp, FixedScale(2.0), 0.5)[0, 0, 0],
                               3.5 + (np.arange(8) - 3.5) / 2)       # the middle half, stretched


def test_zoom_out_fills_the_border_with_zeros():
    from minicnn.data.augmentation import random_zoom
    ones = np.ones((1, 1, 8, 8), dtype=np.float32)
    shrunk = random_zoom(ones, FixedScale(0.5), 0.5)[0, 0]
    # content covers columns 1.75 .. 5.25: the outer columns read only the zero border
    assert shrunk[0, 0] == 0 and shrunk[:, 0].max() == 0 and shrunk[:, -1].max() == 0
    np.testing.assert_array_equal(shrunk[3:5, 3:5], 1.0)
    assert np.all((shrunk >= 0) & (shrunk <= 1))


def test_augment_batch_zoom_is_seeded_and_checked(rng):
    from minicnn.data import augment_batch
    batch = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    first = augment_batch(batch, np.random.default_rng(5), zoom=0.3)
    np.testing.assert_array_equal(first, augment_batch(batch, np.random.default_rng(5), zoom=0.3))
    assert not np.array_equal(first, augment_batch(batch, np.random.default_rng(5), zoom=0.0))
    with pytest.raises(ValueError, match="augment_batch zoom must be a finite number >= 0 and < 1, got"):
        augment_batch(batch, rng, zoom=1.0)
