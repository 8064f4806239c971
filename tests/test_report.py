"""report.html and the comparison page, read as HTML (the browser's view: test_report_browser.py)."""
import base64
import json
import os
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from minicnn.cli import main as cli_main
from minicnn.cli.exits import BAD_ARGUMENTS, BAD_DATA
from minicnn.report import (SECTIONS, LiveReport, ReportError, read_run, write_comparison,
                            write_predictions, write_report)
from minicnn.report.charts import Series, line_chart

from .report_runs import CLASS_NAMES, synthetic_run, trained_run
from .test_train import colour_dataset, make_trainer

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def page_of(folder):
    with open(write_report(folder), encoding="utf-8") as file:
        return file.read()


def section(page, name):
    """The HTML of one section of the page."""
    return re.search(rf'<section id="{name}">(.*?)</section>', page, re.S).group(1)


def test_the_page_has_every_section_and_fetches_nothing(tmp_path):
    page = page_of(synthetic_run(tmp_path / "run"))
    for name, heading in SECTIONS:
        assert f'<section id="{name}"><h2>{heading}</h2>' in page
    assert 'http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;' in page
    # every src and href is inline data or a link inside the page
    for link in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert link.startswith(("data:", "#")), link
    assert "http://" not in page.replace("http://www.w3.org/", "")


def test_the_gallery_shows_the_misclassified_largest_loss_first(tmp_path):
    folder = synthetic_run(tmp_path / "run", images=60)
    run = read_run(folder)
    predictions = run.predictions
    wrong = np.flatnonzero(predictions.predictions != predictions.labels)
    assert len(wrong) > 3   # the synthetic run misclassifies some: the test needs them
    expected = sorted(wrong, key=lambda index: -predictions.losses()[index])
    gallery = section(page_of(folder), "misclassified")
    shown = re.findall(r'<span class="file">([^<]*)</span>', gallery)
    assert shown == [predictions.files[index] for index in expected]
    first = expected[0]
    caption = (f"true <b>{CLASS_NAMES[predictions.labels[first]]}</b><br>predicted "
               f"<b>{CLASS_NAMES[predictions.predictions[first]]}</b> "
               f"({predictions.probabilities[first].max():.2f})")
    assert caption in gallery
    assert f"{len(wrong)} of the {len(wrong)} misclassified (of 60 validation images" in gallery


def test_the_tables_are_scikit_learns_metrics_of_the_predictions(tmp_path):
    from sklearn.metrics import confusion_matrix, f1_score
    folder = synthetic_run(tmp_path / "run", images=60)
    predictions = read_run(folder).predictions
    page = page_of(folder)
    f1 = f1_score(predictions.labels, predictions.predictions, average=None)
    for name, value in zip(CLASS_NAMES, f1):
        assert re.search(rf'<td class="text" data-value="{re.escape(name)}">.*?'
                         rf'<td data-value="[^"]*">{value:.3f}</td><td data-value="\d+">\d+</td>',
                         section(page, "per-class")), name
    matrix = confusion_matrix(predictions.labels, predictions.predictions)
    cells = [int(count) for count in re.findall(r'<td title="[^"]*: (\d+) of \d+"',
                                                 section(page, "confusion"))]
    assert cells == matrix.ravel().tolist()
    off = matrix - np.diag(np.diag(matrix))
    true, predicted = np.unravel_index(off.argmax(), off.shape)
    assert re.search(rf"<td class=\"text\">{CLASS_NAMES[true]}</td><td class=\"text\">"
                     rf"{CLASS_NAMES[predicted]}</td><td>{off.max()}</td>",
                     section(page, "confused-pairs"))


def test_class_and_file_names_are_text_never_markup(tmp_path):
    names = ["<script>alert(1)</script>", "b&q", "c"]
    page = page_of(synthetic_run(tmp_path / "run", class_names=names, images=30))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_run_with_history_only_says_what_each_missing_piece_means(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "history.json").write_text(json.dumps(
        [{"epoch": 1, "train_loss": 2.0, "val_loss": 2.1, "train_accuracy": 0.2,
          "val_accuracy": 0.3, "val_macro_f1": 0.25, "lr": 0.01}]))
    page = page_of(folder)
    assert "in progress or stopped: 1 epoch so far" in page
    assert "No split.json in this run folder" in section(page, "split")
    assert "has not finished; the test split" in section(page, "scores")
    assert "No validation_predictions.npz" in section(page, "misclassified")
    assert "No robustness.json" in section(page, "robustness")
    assert "--run" in section(page, "visualizations")
    assert "no run.json" in section(page, "run")
    assert section(page, "curves").count("<svg") == 4


def test_a_corrupt_piece_is_a_note_and_the_rest_is_shown(tmp_path):
    folder = synthetic_run(tmp_path / "run")
    (tmp_path / "run" / "history.json").write_text('[{"epoch": 1, ')
    predictions = tmp_path / "run" / "validation_predictions.npz"
    predictions.write_bytes(predictions.read_bytes()[:200])
    (tmp_path / "run" / "robustness.json").write_text(json.dumps(
        {"clean": {"accuracy": 0.9}, "mean_accuracy": "high", "results": []}))
    (tmp_path / "run" / "run.json").write_text(json.dumps({"machine": "a laptop"}))
    page = page_of(folder)
    notes = re.search(r'<div class="notes" id="notes">(.*?)</div>', page, re.S).group(1)
    assert "history.json cannot be read" in notes
    assert "validation_predictions.npz cannot be read" in notes
    assert "robustness.json cannot be read (expected a number, got &#39;high&#39;)" in notes
    assert "run.json cannot be read (its &#39;machine&#39; is str, not an object)" in notes
    # the validation tables fall back on metrics.json
    assert "From metrics.json: the 40 validation images, predicted by best.npz" in page


def test_split_robustness_and_figures_are_shown_where_the_folder_has_them(tmp_path):
    folder = synthetic_run(tmp_path / "run")
    run = tmp_path / "run"
    (run / "split.json").write_text(json.dumps(
        {"method": "grouped", "gap": 2, "seed": 0, "val_fraction": 0.1, "train_images": 9117,
         "validation_images": 1013, "description": "Near-duplicate photos are kept together."}))
    (run / "robustness.json").write_text(json.dumps(
        {"checkpoint": "runs/ahe/best.npz", "images": 1013, "seed": 0,
         "clean": {"accuracy": 0.9, "macro_f1": 0.89}, "mean_accuracy": 0.7,
         "results": [{"corruption": "gaussian_noise", "severity": 3, "accuracy": 0.55,
                      "macro_f1": 0.5}]}))
    (run / "robustness.png").write_bytes(PNG)
    (run / "deconv").mkdir()
    (run / "deconv" / "top9_conv1.png").write_bytes(PNG)
    (run / "deconv" / "occlusion.png").write_bytes(b"not a png")
    page = page_of(folder)
    assert "Near-duplicate photos are kept together." in section(page, "split")
    assert "<td class=\"text\">gaussian_noise</td><td>3</td><td>55.00%</td>" in page
    assert "mean accuracy under the corruptions 70.00%" in page
    assert section(page, "robustness").count('src="data:image/png;base64,') == 1
    figures = section(page, "visualizations")
    assert "deconvnet: top-9" in figures and 'alt="deconv/top9_conv1.png"' in figures
    assert "occlusion" not in figures
    assert "deconv/occlusion.png is not a PNG image" in page


def test_test_scores_are_shown_when_the_run_computed_them(tmp_path):
    folder = synthetic_run(tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    metrics["test"] = {**metrics["validation"], "accuracy": 0.8125, "num_images": 1234}
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(metrics))
    scores = section(page_of(folder), "scores")
    assert '<td class="text">test</td><td>1234</td><td>81.25%</td>' in scores
    assert "No test-split scores" not in scores


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="is not a run folder: it holds none of"):
        read_run(tmp_path / "empty")
    with pytest.raises(ReportError, match="no such run folder"):
        read_run(tmp_path / "missing")


def test_each_chart_can_be_hovered_for_every_series_value():
    svg = line_chart("loss", "cross-entropy", [Series("train", [1, 2, 3], [2.0, 1.5, 1.25]),
                                               Series("validation", [1, 2, 3], [2.5, None, 1.5])])
    titles = re.findall(r"<title>(.*?)</title>", svg.split('<g class="hover">')[1], re.S)
    assert titles == ["epoch 1\ntrain: 2\nvalidation: 2.5", "epoch 2\ntrain: 1.5\nvalidation: -",
                      "epoch 3\ntrain: 1.25\nvalidation: 1.5"]
    assert svg.count('<g id="series-') == 2


def test_the_comparison_page_overlays_the_runs(tmp_path):
    first = synthetic_run(tmp_path / "a-s0", epochs=3)
    second = synthetic_run(tmp_path / "b-s0", epochs=5, seed=1, finished=False)
    with open(write_comparison([first, second], tmp_path / "ab.html"), encoding="utf-8") as file:
        page = file.read()
    rows = re.findall(r'<tr><td class="text" data-value="([^"]*)">', page)
    assert rows == [first, second]
    assert "(unfinished)" in page
    assert page.count("<svg") == 5
    assert all(chart.count('<g id="series-') == 2
               for chart in re.findall(r'<figure class="chart".*?</figure>', page, re.S))


def test_the_command_writes_the_page_and_refuses_bad_requests(tmp_path, capsys):
    folder = synthetic_run(tmp_path / "run")
    assert cli_main(["report", folder]) == 0
    assert capsys.readouterr().out.strip() == os.path.join(folder, "report.html")
    history = (tmp_path / "run" / "history.json").read_bytes()
    assert cli_main(["report", folder, "--out", os.path.join(folder, "history.json")]) == \
        BAD_ARGUMENTS
    assert "is the same file as RUN_DIR" in capsys.readouterr().err
    assert (tmp_path / "run" / "history.json").read_bytes() == history
    (tmp_path / "empty").mkdir()
    assert cli_main(["report", str(tmp_path / "empty")]) == BAD_DATA
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    with pytest.raises(SystemExit) as exit_:
        cli_main(["report", folder, folder])
    assert exit_.value.code == BAD_ARGUMENTS
    assert "name it with --out" in capsys.readouterr().err
    assert cli_main(["report", folder, folder, "--out", str(tmp_path / "c.html")]) == 0


def test_the_trainer_calls_its_epoch_callbacks_with_the_validation_logits(tmp_path):
    data = colour_dataset()
    train_set, val_set = data.subset(np.arange(36)), data.subset(np.arange(36, 48))
    trainer = make_trainer(tmp_path / "run", epochs=3)
    ends = []
    trainer.epoch_callbacks.append(ends.append)
    history = trainer.fit(train_set, val_set)
    assert [end.epoch for end in ends] == [1, 2, 3]
    assert [end.row for end in ends] == history
    best = -1.0
    for end in ends:
        assert end.val_logits.shape == (12, 3)
        accuracy = float(np.mean(end.val_logits.argmax(axis=1) == val_set.labels))
        assert accuracy == pytest.approx(end.row["val_accuracy"])
        assert end.improved == (accuracy > best)
        best = max(best, accuracy)


def test_a_report_that_cannot_be_written_warns_and_training_goes_on(tmp_path):
    data = colour_dataset()
    trainer = make_trainer(tmp_path / "run", epochs=3)
    os.makedirs(tmp_path / "run" / "report.html")   # a folder where the page goes
    trainer.epoch_callbacks.append(LiveReport(str(tmp_path / "run")))
    with pytest.warns(UserWarning, match="report.html not written after epoch") as caught:
        history = trainer.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    assert len(history) == 3
    assert len([w for w in caught if "report.html not written" in str(w.message)]) == 3
    # the predictions were written before the page failed, and hold the best epoch's
    best = max(history, key=lambda row: row["val_accuracy"])["epoch"]
    assert read_run(tmp_path / "run").predictions.epoch == best


def test_a_training_run_writes_its_report_and_the_best_epochs_predictions(tmp_path):
    folder, result = trained_run(tmp_path / "run", epochs=2)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"report: {os.path.join(folder, 'report.html')}" in result.stdout
    run = read_run(folder)
    assert run.predictions.epoch == run.metrics["best_epoch"]
    # the page's validation scores are those train_ahe.py computed for best.npz
    accuracy = float(np.mean(run.predictions.predictions == run.predictions.labels))
    assert accuracy == pytest.approx(run.metrics["validation"]["accuracy"])
    assert run.run_info["configuration"]["epochs"] == 2
    assert run.run_info["command"].endswith("--backend numpy --no-progress")
    assert run.run_info["machine"] == run.metrics["machine"]
    page = page_of(folder)
    assert "finished: 2 epochs of 2" in page


def test_predictions_round_trip_without_pickles(tmp_path):
    val_set = SimpleNamespace(labels=np.array([0, 1, 1]), files=["a/1.jpg", "b/2.jpg", "b/3.jpg"],
                              images=np.arange(3 * 3 * 2 * 2, dtype=np.uint8).reshape(3, 3, 2, 2))
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6]], dtype=np.float32)
    write_predictions(tmp_path, val_set, probabilities, ["a", "b"], epoch=7)
    (tmp_path / "history.json").write_text("[]")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predictions = read_run(tmp_path).predictions
    assert predictions.epoch == 7 and predictions.files == val_set.files
    assert predictions.gallery_indices.tolist() == [1]   # the only misclassified one
    assert np.array_equal(predictions.gallery_images[0], val_set.images[1])


def test_the_figure_scripts_write_into_the_run_folder_and_the_report_shows_them(tmp_path):
    import subprocess
    import sys

    from .conftest import REPO_ROOT
    folder, result = trained_run(tmp_path / "run", epochs=1)
    assert result.returncode == 0, result.stderr[-2000:]
    scripts = {"generate_class_images.py": ["--steps", "2"],
               "visualize_deconv.py": ["--data", folder + "-data", "--val-fraction", "0.3",
                                       "--channels", "1"]}
    for script, options in scripts.items():
        done = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / script), "--run",
                               folder, "--backend", "numpy", *options],
                              capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"report: {os.path.join(folder, 'report.html')}" in done.stderr
    with open(os.path.join(folder, "report.html"), encoding="utf-8") as file:
        figures = section(file.read(), "visualizations")
    for name in ("class_images/grid.png", "class_images/history.png", "deconv/top9_conv1.png",
                 "deconv/occlusion.png", "deconv/rules.png", "deconv/filters_conv1.png"):
        assert f'alt="{name}"' in figures, name


def test_compare_runs_writes_the_comparison_page_with_html(tmp_path):
    from .test_examples import run_example
    folders = [synthetic_run(tmp_path / f"recipe-s{seed}", seed=seed) for seed in (0, 1)]
    result = run_example("compare_runs.py", *folders, "--html", str(tmp_path / "c.html"),
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"page: {tmp_path / 'c.html'}" in result.stdout
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert re.findall(r'<tr><td class="text" data-value="([^"]*)">', page) == folders
    refused = run_example("compare_runs.py", *folders, "--html", folders[0], cwd=tmp_path)
    assert refused.returncode == 2 and "is a folder" in refused.stderr


def test_a_large_figure_is_embedded_as_a_jpeg_and_a_small_one_as_itself(tmp_path):
    from PIL import Image

    from minicnn.report.page import PNG_EMBED_LIMIT
    folder = synthetic_run(tmp_path / "run")
    (tmp_path / "run" / "deconv").mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (400, 400, 4), dtype=np.uint8)
    Image.fromarray(noise, "RGBA").save(tmp_path / "run" / "deconv" / "rules.png")
    (tmp_path / "run" / "deconv" / "filters_conv1.png").write_bytes(PNG)
    assert (tmp_path / "run" / "deconv" / "rules.png").stat().st_size > PNG_EMBED_LIMIT
    figures = section(page_of(folder), "visualizations")
    assert re.search(r'<img src="data:image/jpeg;base64,[^"]+" alt="deconv/rules.png">', figures)
    assert f'<img src="data:image/png;base64,{base64.b64encode(PNG).decode()}" ' \
           'alt="deconv/filters_conv1.png">' in figures
