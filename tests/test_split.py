"""Tests for the grouped validation split (issue 21): which files are siblings, and that no group
straddles the split.

The fixture is a file list shaped like AHE64's: Flickr names whose ids come in upload bursts,
Wikimedia-style names of a few buildings, and a byte-identical pair under two classes.
"""
import numpy as np
import pytest

from minicnn.data import ImageDataset
from minicnn.data.split import (DEFAULT_GAP, building_key, distance_bins, flickr_id,
                                nearest_training_sibling, sibling_groups, split_record,
                                train_validation_split)

CLASSES = ["apse", "column", "vault"]


def burst_files(seed=0, bursts=60):
    """(files, digests, labels): ``bursts`` Flickr bursts of 1-6 photos, ids 10-40,000 apart inside a
    burst and >= 10 million apart between bursts, plus two buildings' Wikimedia photos."""
    rng = np.random.default_rng(seed)
    files, labels = [], []
    start = 1_000_000_000
    for burst in range(bursts):
        photo_id = start + burst * 20_000_000
        for _ in range(rng.integers(1, 7)):
            photo_id += int(rng.integers(10, 40_000))
            label = int(rng.integers(0, len(CLASSES)))
            files.append(f"{CLASSES[label]}/{photo_id}_{rng.integers(16 ** 9):010x}_m.jpg")
            labels.append(label)
    for name in ("120px-111ComoDuomo.jpg", "120px-113ComoDuomo.jpg", "90px-Como,_duomo,_esterno_09.jpg",
                 "90px-Como,_duomo,_esterno_15.jpg", "Palermo-AP-p1070471.jpg", "Palermo-AP-p1070491.jpg"):
        files.append(f"apse/{name}")
        labels.append(0)
    digests = [f"digest-{index}" for index in range(len(files))]
    digests[3] = digests[len(files) - 1]   # a byte-identical pair under two names
    return files, digests, np.array(labels, dtype=np.int64)


def fixture_dataset(seed=0):
    files, digests, labels = burst_files(seed)
    images = np.zeros((len(files), 3, 4, 4), dtype=np.uint8)
    return ImageDataset(images, labels, list(CLASSES), files, digests, source="fixture")


def test_flickr_ids_and_building_keys():
    assert flickr_id("apse/8054516805_72faa4c05c_n.jpg") == 8054516805
    assert flickr_id("10239931975_d845945650.jpg") == 10239931975
    assert flickr_id("120px-111ComoDuomo.jpg") is None
    assert flickr_id("altar_001.jpg") is None
    assert building_key("120px-111ComoDuomo.jpg") == building_key("120px-113ComoDuomo.jpg") == "comoduomo"
    assert building_key("Palermo-AP-p1070471.jpg") == building_key("Palermo-AP-p1070491.jpg")
    assert building_key("120px-Avila_-_Catedral,_exteriores_16.jpg") == "avilacatedralexteriores"
    assert building_key("IMG_1234.jpg") == ""
    assert building_key("120px-Zamora_Catedral.jpg") != building_key("120px-Toro_Colegiata.jpg")


def test_sibling_groups_link_bursts_duplicates_and_buildings():
    files = ["a/1000000_aa_m.jpg", "a/1050000_bb.jpg", "a/1140000_cc_n.jpg",   # chained: 50k, 90k
             "a/1300000_dd_m.jpg",                                            # 160k further: alone
             "a/120px-111ComoDuomo.jpg", "a/120px-113ComoDuomo.jpg", "a/IMG_1.jpg", "a/IMG_2.jpg",
             "b/9000000_ee_m.jpg"]
    digests = ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d3"]   # last one: copy of 3
    groups = sibling_groups(files, digests, gap=100_000)
    assert groups[0] == groups[1] == groups[2]
    assert groups[3] != groups[0] and groups[3] == groups[8]
    assert groups[4] == groups[5] != groups[0]
    assert groups[6] != groups[7], "names with no words left are not linked"
    assert len(set(sibling_groups(files, digests, gap=60_000)[:3])) == 2   # the 90k step breaks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_group_straddles_the_grouped_split(seed):
    dataset = fixture_dataset(seed)
    groups = sibling_groups(dataset.files, dataset.digests, DEFAULT_GAP)
    train, val = train_validation_split(dataset, 0.2, seed=seed)
    val_groups = set(groups[[dataset.files.index(file) for file in val.files]])
    train_groups = set(groups[[dataset.files.index(file) for file in train.files]])
    assert val_groups and not val_groups & train_groups
    assert len(train) + len(val) == len(dataset)
    distances = nearest_training_sibling(train.files, val.files)
    assert np.nanmin(distances) >= DEFAULT_GAP


def test_random_split_lets_bursts_straddle():
    """The old split, for comparison: with these bursts it puts siblings on both sides."""
    dataset = fixture_dataset(0)
    train, val = train_validation_split(dataset, 0.2, seed=0, method="random")
    assert np.nanmin(nearest_training_sibling(train.files, val.files)) < DEFAULT_GAP


def test_grouped_split_is_stratified_within_tolerance_and_seeded():
    dataset = fixture_dataset(3)
    class_sizes = np.bincount(dataset.labels)
    for seed in range(5):
        _, val = train_validation_split(dataset, 0.2, seed=seed)
        val_sizes = np.bincount(val.labels, minlength=len(CLASSES))
        # whole bursts of up to 6 photos go to one side: each class within one burst of its share
        assert np.all(np.abs(val_sizes - class_sizes * 0.2) <= 6), (val_sizes, class_sizes * 0.2)
    first = train_validation_split(dataset, 0.2, seed=5)[1].files
    assert train_validation_split(dataset, 0.2, seed=5)[1].files == first
    assert train_validation_split(dataset, 0.2, seed=6)[1].files != first


@pytest.mark.parametrize("gap", [0, -5, 2.5, "100", True])
def test_a_bad_gap_is_refused_naming_the_value(gap):
    dataset = fixture_dataset(0)
    with pytest.raises(ValueError, match=f"split gap .*got {gap!r}"):
        train_validation_split(dataset, 0.2, gap=gap)


def test_a_bad_method_is_refused_naming_it():
    with pytest.raises(ValueError, match="'stratified'"):
        train_validation_split(fixture_dataset(0), 0.2, method="stratified")


def test_split_record_follows_the_schema():
    record = split_record("grouped", 100_000, 3, 0.1, 900, 100)
    assert set(record) == {"method", "gap", "seed", "val_fraction", "train_images",
                           "validation_images", "description"}
    assert record["gap"] == 100_000 and "100,000" in record["description"]
    assert split_record("random", 100_000, 3, 0.1, 900, 100)["gap"] is None


def test_distance_bins():
    rows = distance_bins([0, 999, 1_000, 99_999, 5_000_000, 10_000_000, np.nan])
    np.testing.assert_array_equal(rows, [0, 0, 1, 1, 3, 4, 5])


# --- resuming under another split ---------------------------------------------------------

def split_trainer(out_dir, split):
    from tests.test_train import make_trainer
    trainer = make_trainer(out_dir, epochs=2)
    if split is not None:
        trainer.extra_meta["split"] = split
    return trainer


def test_resume_refuses_a_checkpoint_of_another_split_naming_both(tmp_path):
    from minicnn.io.checkpoint_checks import CheckpointError
    from tests.test_train import colour_dataset
    data = colour_dataset()
    parts = (data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    grouped = split_record("grouped", 100_000, 4, 0.25, 36, 12)
    split_trainer(tmp_path / "run", grouped).fit(*parts)   # 2 epochs, written with its record
    with pytest.raises(CheckpointError, match="trained under the grouped split with gap 100,000; "
                                              "this run asks for the random split"):
        split_trainer(tmp_path / "run", split_record("random", None, 4, 0.25, 36, 12)).fit(
            *parts, resume=True)
    with pytest.raises(CheckpointError, match="asks for the grouped split with gap 5,000"):
        split_trainer(tmp_path / "run", split_record("grouped", 5_000, 4, 0.25, 36, 12)).fit(
            *parts, resume=True)
    resumed = split_trainer(tmp_path / "run", grouped)
    resumed.config.epochs = 3
    assert [row["epoch"] for row in resumed.fit(*parts, resume=True)] == [1, 2, 3]


def test_a_checkpoint_with_no_split_record_counts_as_the_random_split(tmp_path):
    from minicnn.io.checkpoint_checks import CheckpointError
    from tests.test_train import colour_dataset
    data = colour_dataset()
    parts = (data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    split_trainer(tmp_path / "run", None).fit(*parts)   # as before issue 21: no record
    with pytest.raises(CheckpointError, match=r"trained under the random split \(it has no split "
                                              r"record.*asks for the grouped split with gap 100,000"):
        split_trainer(tmp_path / "run", split_record("grouped", 100_000, 4, 0.25, 36, 12)).fit(
            *parts, resume=True)
    resumed = split_trainer(tmp_path / "run", split_record("random", None, 4, 0.25, 36, 12))
    resumed.config.epochs = 3
    assert [row["epoch"] for row in resumed.fit(*parts, resume=True)] == [1, 2, 3]
