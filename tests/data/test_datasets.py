"""Dataset loaders: digits, and CIFAR on small files written here in the release format."""

import hashlib
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from sbn.data import load_dataset
from sbn.data.cifar import CIFAR10, download
from sbn.errors import DataError


def _batch(n, label_key, num_classes, seed):
    rng = np.random.default_rng(seed)
    return {
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        label_key.encode(): [int(v) for v in rng.integers(0, num_classes, n)],
        b"batch_label": b"synthetic",
    }


def _write(path, obj):
    path.write_bytes(pickle.dumps(obj, protocol=2))  # the release is protocol-2 pickles


@pytest.fixture
def cifar10_dir(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [_batch(6, "labels", 10, seed) for seed in range(6)]
    for i in range(5):
        _write(folder / f"data_batch_{i + 1}", batches[i])
    _write(folder / "test_batch", batches[5])
    return tmp_path, batches


@pytest.fixture
def cifar100_dir(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train, test = _batch(10, "fine_labels", 100, 1), _batch(4, "fine_labels", 100, 2)
    _write(folder / "train", train)
    _write(folder / "test", test)
    return tmp_path, train, test


def test_digits_is_embedded_and_split():
    train, test = load_dataset("digits", train=True), load_dataset("digits")
    assert (len(train), len(test)) == (1438, 359)  # 1797 digits, stratified 80/20
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.float32
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    assert train.num_classes == 10 and set(test.labels.tolist()) == set(range(10))
    # 8x8 -> 32x32 by 4x nearest upsampling, same on all three channels
    img = train.images[0]
    assert torch.equal(img[0], img[1]) and torch.equal(
        img[0, ::4, ::4].repeat_interleave(4, 0).repeat_interleave(4, 1), img[0]
    )


def test_cifar10_reads_release_layout(cifar10_dir):
    root, batches = cifar10_dir
    train = load_dataset("cifar10", root=root, train=True)
    test = load_dataset("cifar10", root=root)
    assert (len(train), len(test), train.num_classes) == (30, 6, 10)
    first = batches[0][b"data"][0].reshape(3, 32, 32)
    assert torch.equal(train.images[0], torch.from_numpy(first).float() / 255)
    assert test.labels.tolist() == batches[5][b"labels"]


def test_cifar100_uses_fine_labels(cifar100_dir):
    root, train_batch, test_batch = cifar100_dir
    test = load_dataset("cifar100", root=root)
    assert test.num_classes == 100 and test.labels.tolist() == test_batch[b"fine_labels"]
    assert len(load_dataset("cifar100", root=root, train=True)) == 10


def test_missing_folder_names_path(tmp_path):
    with pytest.raises(DataError, match=r"cifar-100-python: not found; expected the cifar100 python release"):
        load_dataset("cifar100", root=tmp_path)
    with pytest.raises(DataError, match="cifar10 needs --data-dir"):
        load_dataset("cifar10")


def test_missing_batch_file(cifar10_dir):
    root, _ = cifar10_dir
    os.remove(root / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(DataError, match="missing cifar10 batch file 'data_batch_3'"):
        load_dataset("cifar10", root=root, train=True)


def test_class_count_mismatch(cifar10_dir):
    root, _ = cifar10_dir
    bad = _batch(3, "labels", 10, 9)
    bad[b"labels"] = [0, 42, 1]  # a CIFAR-100 label in a CIFAR-10 file
    _write(root / "cifar-10-batches-py" / "test_batch", bad)
    with pytest.raises(DataError, match=r"labels span 0..42, but cifar10 has 10 classes"):
        load_dataset("cifar10", root=root)


def test_wrong_shape_and_keys(cifar10_dir):
    root, _ = cifar10_dir
    folder = root / "cifar-10-batches-py"
    _write(folder / "test_batch", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with pytest.raises(DataError, match=r"'data' must be uint8 of shape \(N, 3072\)"):
        load_dataset("cifar10", root=root)
    _write(folder / "test_batch", {b"pixels": np.zeros((2, 3072), np.uint8)})
    with pytest.raises(DataError, match="expected keys 'data' and 'labels'"):
        load_dataset("cifar10", root=root)
    (folder / "test_batch").write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(DataError, match="not a CIFAR python-format batch"):
        load_dataset("cifar10", root=root)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_malicious_pickle_is_refused_not_run(cifar10_dir, monkeypatch):
    root, _ = cifar10_dir
    monkeypatch.chdir(root)
    _write(root / "cifar-10-batches-py" / "test_batch", {b"data": _Exploit(), b"labels": []})
    with pytest.raises(DataError, match=r"refusing to load global (posix|os)\.system"):
        load_dataset("cifar10", root=root)
    assert not (root / "PWNED").exists()


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'mnist': choose one of digits, cifar10, cifar100"):
        load_dataset("mnist")


def _archive(tmp_path, batches):
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    for i in range(5):
        _write(src / f"data_batch_{i + 1}", batches[i])
    _write(src / "test_batch", batches[5])
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    return archive


def test_download_from_file_url(tmp_path):
    batches = [_batch(2, "labels", 10, s) for s in range(6)]
    archive = _archive(tmp_path, batches)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    root = tmp_path / "data"
    folder = download(CIFAR10, root, url=archive.as_uri(), md5=md5)
    assert folder == root / "cifar-10-batches-py"
    assert len(load_dataset("cifar10", root=root)) == 2


def test_download_checks_md5(tmp_path):
    archive = _archive(tmp_path, [_batch(1, "labels", 10, s) for s in range(6)])
    with pytest.raises(DataError, match="does not match the expected 0123"):
        download(CIFAR10, tmp_path / "data", url=archive.as_uri(), md5="0123")


def test_download_unreachable(tmp_path):
    with pytest.raises(DataError, match="could not download cifar10 from file:"):
        download(CIFAR10, tmp_path / "data", url=(tmp_path / "nope.tar.gz").as_uri())
