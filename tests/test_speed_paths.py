"""The fast paths compute what the plain ones do: conv, pooling, threads, batches."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skorch.dataset import Dataset
from torch.utils.data import Subset

from sklearn_genre import CRNNClassifier, CRNNTagger
from sklearn_genre._data import Batches, batches_for
from sklearn_genre.engine import resolve_n_jobs
from sklearn_genre.engine.layers import Conv1d, MaxPoolReLU, _Conv1dMatmul, dropout_generator

from .conftest import make_separable


@pytest.mark.parametrize("kernel", [1, 3, 4, 9])
@pytest.mark.parametrize("n_frames", [1, 5, 64])
def test_matmul_conv_matches_torch_conv(kernel, n_frames):
    conv = Conv1d(12, 5, kernel, padding=kernel // 2)
    x = torch.randn(3, 12, n_frames, requires_grad=True)
    ours = conv(x)
    ref = F.conv1d(x, conv.weight, conv.bias, padding=kernel // 2)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(ours, [x, conv.weight, conv.bias], g),
                    torch.autograd.grad(ref, [x, conv.weight, conv.bias], g), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_matmul_conv_gradcheck_in_double():
    w, b = torch.randn(3, 4, 3, dtype=torch.double), torch.randn(3, dtype=torch.double)
    x = torch.randn(2, 4, 7, dtype=torch.double)
    assert torch.autograd.gradcheck(
        lambda x, w, b: _Conv1dMatmul.apply(x, w, b, 1),
        (x.requires_grad_(), w.requires_grad_(), b.requires_grad_()))


def test_conv_falls_back_to_torch_under_autocast_and_strides():
    conv = Conv1d(4, 2, 3, padding=1, stride=2)
    x = torch.randn(2, 4, 9)
    torch.testing.assert_close(conv(x), F.conv1d(x, conv.weight, conv.bias, stride=2,
                                                 padding=1))


@pytest.mark.parametrize("pool", [2, 3])
@pytest.mark.parametrize("n_frames", [8, 9, 3])
def test_pool_then_relu_equals_relu_then_pool_with_gradients(pool, n_frames):
    x = torch.randn(2, 3, n_frames, requires_grad=True)
    ours, ref = MaxPoolReLU(pool)(x), F.max_pool1d(torch.relu(x), pool)
    torch.testing.assert_close(ours, ref)
    with torch.no_grad():
        torch.testing.assert_close(MaxPoolReLU(pool)(x), ref)
    g = torch.randn_like(ref)
    grad, = torch.autograd.grad(ours, x, g)
    grad_ref, = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(grad, grad_ref)
    assert (grad[..., n_frames // pool * pool:] == 0).all()  # frames outside every pool


def test_pool_gradient_goes_to_the_first_of_tied_frames():
    # silence gives equal frames: the gradient is not counted twice (nor halved)
    x = torch.tensor([[[1.0, 1.0, -2.0, -2.0, 3.0, 0.5]]], requires_grad=True)
    out = MaxPoolReLU(2)(x)
    grad, = torch.autograd.grad(out, x, torch.ones_like(out))
    torch.testing.assert_close(out, torch.tensor([[[1.0, 0.0, 3.0]]]))
    torch.testing.assert_close(grad, torch.tensor([[[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]]))


def test_too_short_window_is_a_clear_error():
    with pytest.raises(ValueError, match="too short"):
        MaxPoolReLU(2)(torch.randn(2, 3, 1))


def test_dropout_masks_follow_the_thread_generator():
    from sklearn_genre.engine import CRNN
    net = CRNN(n_mels=8, n_classes=3).train()
    x = torch.randn(4, 8, 40)
    with dropout_generator(torch.Generator().manual_seed(5)):
        a = net(x)
    with dropout_generator(torch.Generator().manual_seed(5)):
        b = net(x)
    with dropout_generator(torch.Generator().manual_seed(6)):
        c = net(x)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.fixture(autouse=True)
def _split_small_batches(monkeypatch):
    """The test batches are small: let the classifier split them anyway."""
    monkeypatch.setattr(CRNNClassifier, "_min_chunk_sequences", 1)


def test_small_batches_run_whole(monkeypatch):
    monkeypatch.setattr(CRNNClassifier, "_min_chunk_sequences", 16)
    clf = CRNNClassifier(n_jobs=4)
    assert clf._n_chunks(np.zeros((31, 1, 8, 8)), {}) == 1
    assert clf._n_chunks(np.zeros((32, 1, 8, 8)), {}) == 2
    assert clf._n_chunks(np.zeros((8, 16, 8, 8)), {}) == 4  # 8 tracks x 16 windows
    assert clf._n_chunks(np.zeros((256, 1, 8, 8)), {}) == 4


def _gradients(clf, X, y, n_jobs):
    clf.set_params(n_jobs=n_jobs)
    clf.module_.zero_grad(set_to_none=True)
    with torch.random.fork_rng():
        step = clf.train_step_single((torch.as_tensor(X), torch.as_tensor(y)))
    return step["loss"].item(), {name: p.grad.clone() for name, p in
                                 clf.module_.named_parameters()}


@pytest.mark.parametrize("estimator", ["classifier", "tagger"])
def test_threaded_batch_gives_the_full_batch_gradient(rng, estimator):
    """Without dropout, splitting a batch over threads changes nothing but rounding,
    class weights included (the loss is taken over the whole batch)."""
    X, labels = make_separable(rng, n_tracks=24, labels=("a", "b", "c"))
    if estimator == "classifier":
        clf = CRNNClassifier(max_epochs=1, train_split=None, verbose=0, random_state=0,
                             class_weight={"a": 3.0}, module__dropout=0.0)
        clf.fit(X, labels)
        y = clf.label_encoder_.transform(labels)
    else:
        tags = [(label,) if i % 2 else (label, "x") for i, label in enumerate(labels)]
        clf = CRNNTagger(max_epochs=1, train_split=None, verbose=0, random_state=0,
                         pos_weight="balanced")
        clf.fit(X, tags)
        y = clf.binarizer_.transform(tags).astype(np.float32)
    clf.module_.eval()  # no dropout anywhere: the two paths must agree
    clf.module_.train = lambda mode=True: clf.module_
    loss_1, grads_1 = _gradients(clf, X, y, 1)
    loss_3, grads_3 = _gradients(clf, X, y, 3)
    assert loss_1 == pytest.approx(loss_3, rel=1e-5)
    for name, grad in grads_1.items():
        torch.testing.assert_close(grads_3[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_threaded_fit_is_reproducible_and_predictions_do_not_depend_on_n_jobs(rng):
    X, y = make_separable(rng, n_tracks=48)
    fit = [CRNNClassifier(max_epochs=15, batch_size=16, verbose=0, random_state=1,
                          n_jobs=2).fit(X, y) for _ in range(2)]
    np.testing.assert_array_equal(fit[0].predict_proba(X), fit[1].predict_proba(X))
    proba_2 = fit[0].predict_proba(X)
    proba_1 = fit[0].set_params(n_jobs=1).predict_proba(X)
    np.testing.assert_allclose(proba_1, proba_2, atol=1e-5)
    assert fit[0].score(X, y) >= 0.9
    # inference in many small pieces shared by 2 threads, float16 inputs included
    fit[0].set_params(n_jobs=2)
    fit[0]._infer_piece = 3
    np.testing.assert_allclose(fit[0].predict_proba(X), proba_1, atol=1e-5)
    np.testing.assert_allclose(fit[0].predict_proba(X.astype(np.float16)), proba_1, atol=1e-3)


def test_n_jobs_validation():
    assert resolve_n_jobs(3) == 3
    assert resolve_n_jobs(-1) >= 1
    assert resolve_n_jobs(None) == torch.get_num_threads()
    with pytest.raises(ValueError, match="n_jobs"):
        resolve_n_jobs(0)


def test_batches_cover_every_row_once_and_pair_x_with_y():
    X = np.arange(10, dtype=np.float32)[:, None] * np.ones((10, 3), np.float32)
    y = np.arange(10)
    batches = list(Batches(X, y, None, 4, shuffle=True))
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    seen = np.concatenate([yb.numpy() for _, yb in batches])
    assert sorted(seen) == list(range(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0].numpy(), yb.numpy())


def test_batches_slice_views_in_order_and_handle_subsets():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    batches = batches_for(Dataset(X), 4, shuffle=False)
    xb, yb = next(iter(batches))
    assert np.shares_memory(xb.numpy(), X) and yb.shape == (4,)
    subset = batches_for(Subset(Dataset(X, np.arange(6)), [5, 1, 3]), -1, shuffle=False)
    (xb, yb), = list(subset)
    np.testing.assert_array_equal(yb.numpy(), [5, 1, 3])
    np.testing.assert_array_equal(xb.numpy(), X[[5, 1, 3]])
    assert batches_for(Dataset([X[0], X[1]]), 2, shuffle=False) is None  # lists: DataLoader


def test_batches_reuse_a_buffer_only_once_released():
    X = np.random.default_rng(0).normal(size=(40, 3, 5)).astype(np.float32)
    y = np.arange(40)
    batches = Batches(X, y, None, 8, shuffle=True)
    addresses, kept = [], []
    for xb, yb in batches:  # dropped at each step: the buffers take turns
        np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])
        addresses.append(xb.data_ptr())
    assert len(set(addresses)) <= 3
    for xb, yb in batches:  # every batch held, or a view of it: no buffer is overwritten
        kept.append((xb[:, :1], yb))
    assert len({xb.data_ptr() for xb, _ in kept}) == 5
    for xb, yb in kept:
        np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()][:, :1])


def test_gpu_batches_come_in_pinned_memory(monkeypatch):
    """No GPU here: check that a CUDA device asks for pinned batches on both paths."""
    pinned = []
    monkeypatch.setattr(torch.Tensor, "pin_memory",
                        lambda self: pinned.append(self.shape) or self)
    X, y = np.zeros((6, 1, 4, 8), np.float32), np.arange(6) % 2
    clf = CRNNClassifier(device="cuda", batch_size=4)
    batches = clf.get_iterator(Dataset(X, y), training=True)
    assert isinstance(batches, Batches) and len(list(batches)) == 2
    assert len(pinned) == 4  # X and y of both batches
    loader = CRNNClassifier(device="cuda", iterator_train__num_workers=1).get_iterator(
        Dataset(X, y), training=True)
    assert loader.pin_memory and loader.num_workers == 1
    assert not CRNNClassifier(iterator_train__num_workers=1).get_iterator(
        Dataset(X, y), training=True).pin_memory


def test_allocator_tuning_is_opt_in_applied_once_and_respects_the_user(monkeypatch):
    import platform

    from sklearn_genre.engine import allocator

    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.delenv("SKLEARN_GENRE_TUNE_MALLOC", raising=False)
    assert allocator.tune_malloc() == {}  # off by default
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setenv("SKLEARN_GENRE_TUNE_MALLOC", "1")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # the user's setting wins
    applied = allocator.tune_malloc()
    assert "M_TRIM_THRESHOLD" not in applied
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert applied == {"M_MMAP_THRESHOLD": allocator.MMAP_THRESHOLD}
    monkeypatch.setenv("SKLEARN_GENRE_TUNE_MALLOC", "0")
    assert allocator.tune_malloc() == applied  # once per process
    monkeypatch.setattr(allocator, "_applied", None)  # the rest of the suite: untouched


def test_calling_thread_is_serial_while_workers_run_and_restored_after():
    from sklearn_genre.engine.parallel import workers_only

    before = torch.get_num_threads()
    with workers_only(2):
        assert torch.get_num_threads() == 1
        assert resolve_n_jobs(None) == before  # None keeps its meaning inside
    assert torch.get_num_threads() == before
    with workers_only(1):
        assert torch.get_num_threads() == before  # nothing split: nothing changed
