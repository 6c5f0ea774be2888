"""Decoders of arbitrary style transfer (fastnst.decoders) and their training (fastnst train-decoder)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from fastnst.config import DecoderConfig
from fastnst.decoders import CHANNELS, LEVELS, Decoder, load_decoder_file, save_decoder_file, scale_of
from fastnst.errors import UserError
from fastnst.train_decoder import (
    build_encoder,
    least_squares_start,
    reconstruction_loss,
    train_decoder,
    transferred,
    validation_photos,
    validation_psnr,
)

from conftest import SHARED, need_shared

SHIPPED = Path(__file__).resolve().parents[1] / "fastnst" / "pretrained" / "arbitrary"
# dB on the first 8 BSDS500 val photos, 192 px centre crops (measured 23.6, 23.6 and 39.9)
SHIPPED_MIN_PSNR = {"relu3_1": 22.0, "relu2_1": 22.5, "relu1_1": 38.0}


@pytest.mark.parametrize("level", LEVELS)
def test_a_decoder_returns_an_image_of_its_levels_scale(level):
    s = scale_of(level)
    y = Decoder(level, 0.5)(torch.rand(2, CHANNELS[level], 5, 7))
    assert y.shape == (2, 3, 5 * s, 7 * s)


def test_decoder_files_keep_the_weights_in_fp16(tmp_path):
    d = Decoder("relu2_1", 0.25)
    save_decoder_file(tmp_path / "d.pth", d, {"level": "relu2_1"}, half=True)
    back, meta = load_decoder_file(tmp_path / "d.pth")
    assert meta == {"level": "relu2_1"} and back.width == 0.25
    for (k, a), b in zip(d.state_dict().items(), back.state_dict().values()):
        assert torch.equal(a.half().float(), b), k


def test_a_decoder_file_keeps_its_upsampling_and_an_older_file_is_nearest(tmp_path):
    """The file records how the decoder scales up; a file written before the field existed loads as nearest.
    The two modes give different pictures from the same weights."""
    torch.manual_seed(0)
    d = Decoder("relu2_1", 0.25, "bilinear")
    save_decoder_file(tmp_path / "b.pth", d, {"level": "relu2_1"})
    back, _ = load_decoder_file(tmp_path / "b.pth")
    assert back.upsample == "bilinear"
    payload = torch.load(tmp_path / "b.pth", weights_only=True)
    del payload["upsample"]
    torch.save(payload, tmp_path / "old.pth")
    old, _ = load_decoder_file(tmp_path / "old.pth")
    assert old.upsample == "nearest"
    f = torch.rand(1, CHANNELS["relu2_1"], 6, 5)
    with torch.no_grad():
        assert torch.allclose(back(f), d(f)) and not torch.allclose(old(f), d(f), atol=1e-3)
    with pytest.raises(UserError, match="upsampling"):
        Decoder("relu2_1", 0.25, "bicubic")


def test_the_least_squares_start_is_the_pixel_losss_minimum():
    """At the solution the pixel loss's gradient vanishes (up to the small ridge), and the loss is below
    the random start's and below any nearby decoder's."""
    torch.manual_seed(0)
    encoder = build_encoder("random-vgg19", "relu1_1")
    batches = [torch.rand(2, 3, 12, 10), torch.rand(3, 3, 12, 10)]
    decoder = Decoder("relu1_1")
    x = torch.cat(batches)

    def pixel_loss(d):
        return torch.nn.functional.mse_loss(d(encoder(x, ["relu1_1"])["relu1_1"]), x)

    before = pixel_loss(decoder).item()
    least_squares_start(decoder, encoder, batches, ridge=1e-9)
    loss = pixel_loss(decoder)
    loss.backward()
    grads = torch.cat([p.grad.flatten() for p in decoder.parameters()])
    assert loss.item() < before
    assert grads.abs().max() < 1e-4 * max(1.0, loss.item())
    for _ in range(3):
        nearby = Decoder("relu1_1")
        nearby.load_state_dict({k: v + 1e-3 * torch.randn_like(v) for k, v in decoder.state_dict().items()})
        assert pixel_loss(nearby).item() > loss.item()


def test_a_least_squares_start_needs_a_one_conv_decoder():
    with pytest.raises(ValueError, match="one 3x3 conv"):
        least_squares_start(Decoder("relu2_1", 0.25), build_encoder("random-vgg19", "relu2_1"), [])
    with pytest.raises(UserError, match="relu1_1"):
        DecoderConfig(level="relu2_1", init="lstsq").validate()
    with pytest.raises(UserError, match="--iterations"):
        DecoderConfig(level="relu2_1", iterations=0).validate()
    DecoderConfig(level="relu1_1", init="lstsq", iterations=0).validate()  # 0 steps: the solve alone


def test_transferred_features_take_the_previous_photos_statistics():
    """Each photo's transferred features have the mean and covariance of its source's (here the photo before it
    in the batch, as the loss pairs them; the ridge of fastnst.wct aside), not their own."""
    from fastnst.wct import covariance

    torch.manual_seed(0)
    f = torch.rand(3, 6, 9, 11) * torch.linspace(0.5, 2, 6)[None, :, None, None]  # (N, C, h, w)
    t = transferred(f, f.roll(1, 0))
    assert t.shape == f.shape
    mean_t, cov_t = covariance(t)
    mean_f, cov_f = covariance(f.roll(1, 0))
    assert torch.allclose(mean_t, mean_f, atol=1e-4)
    assert torch.allclose(cov_t, cov_f, atol=5e-3 * cov_f.abs().max().item())
    assert not torch.allclose(cov_t, covariance(f)[1], atol=5e-3 * cov_f.abs().max().item())


def test_the_transfer_fraction_splits_the_batch_between_the_losses():
    """transfer 0: the plain reconstruction loss (pixel + feature, no transfer term); transfer 1: the feature
    error against the transferred features alone; 0.5: the first half reconstructs, the second transfers."""
    import torch.nn.functional as F

    from fastnst.decoders import crop_to

    torch.manual_seed(0)
    encoder = build_encoder("random-vgg19", "relu2_1")
    decoder = Decoder("relu2_1", 0.25)
    x = torch.rand(4, 3, 16, 20)
    cfg = DecoderConfig(level="relu2_1", pixel_weight=2.0, feature_weight=3.0)
    with torch.no_grad():
        target = encoder(x, ["relu1_1", "relu2_1"])
        y = crop_to(decoder(target["relu2_1"]), x)
        got = encoder(y, ["relu1_1", "relu2_1"])
        plain = reconstruction_loss(decoder, encoder, x, cfg)
        assert plain["transfer"] == 0
        assert plain["pixel"] == pytest.approx(F.mse_loss(y, x).item(), rel=1e-5)
        assert plain["total"] == pytest.approx(2 * F.mse_loss(y, x).item() + 3 * sum(
            F.mse_loss(got[k], target[k]).item() for k in got), rel=1e-5)
        cfg.transfer = 1.0
        t = transferred(target["relu2_1"], target["relu2_1"].roll(1, 0))
        yt = crop_to(decoder(t), x)
        only = reconstruction_loss(decoder, encoder, x, cfg)
        assert only["pixel"] == 0 and only["feature"] == 0
        assert only["total"] == pytest.approx(3 * F.mse_loss(encoder(yt, ["relu2_1"])["relu2_1"], t).item(), rel=1e-4)
        cfg.transfer = 0.5
        half = reconstruction_loss(decoder, encoder, x, cfg)
        assert half["pixel"] == pytest.approx(F.mse_loss(y[:2], x[:2]).item(), rel=1e-5)
        assert half["transfer"] == pytest.approx(
            F.mse_loss(encoder(yt[2:], ["relu2_1"])["relu2_1"], t[2:]).item(), rel=1e-4)


def test_init_from_starts_at_a_decoder_files_weights(tmp_path):
    """A 1-step run at a vanishing learning rate from a saved decoder ends at that decoder's weights; one of
    another level or width is a one-line error, and so is --init-from with --init lstsq."""
    from fastnst.image import sample_content, save_image

    photos = tmp_path / "photos"
    photos.mkdir()
    save_image(photos / "p.png", sample_content()[:96, :128])
    torch.manual_seed(3)
    start = Decoder("relu2_1", 0.25)
    save_decoder_file(tmp_path / "start.pth", start, {"level": "relu2_1"}, half=False)
    common = dict(level="relu2_1", data=str(photos), loss_net="random-vgg19", width=0.25, image_size=32,
                  batch_size=2, iterations=1, lr=1e-12, save_half=False, transfer=0.5)
    out, meta = load_decoder_file(train_decoder(DecoderConfig(**common, output=str(tmp_path / "a"),
                                                              init_from=str(tmp_path / "start.pth")), progress=False))
    for k, v in start.state_dict().items():
        assert torch.allclose(out.state_dict()[k], v, atol=1e-9), k
    assert meta["init_from"] == "start.pth" and meta["transfer"] == 0.5
    save_decoder_file(tmp_path / "wide.pth", Decoder("relu2_1", 0.5), {"level": "relu2_1"}, half=False)
    with pytest.raises(UserError, match="width"):
        train_decoder(DecoderConfig(**common, output=str(tmp_path / "b"), init_from=str(tmp_path / "wide.pth")),
                      progress=False)
    with pytest.raises(UserError, match="--init-from"):
        DecoderConfig(level="relu1_1", init="lstsq", init_from="x.pth").validate()
    with pytest.raises(UserError, match="--transfer"):
        DecoderConfig(transfer=1.5).validate()


@pytest.mark.slow
def test_training_resumes_exactly(tmp_path):
    """4 steps straight, and 2 steps then a resume from the step-2 checkpoint: the same decoder."""
    photos = tmp_path / "photos"
    photos.mkdir()
    from fastnst.image import sample_content, save_image

    for k in range(3):
        save_image(photos / f"p{k}.png", np.roll(sample_content()[:96, :128], 17 * k, axis=1))
    common = dict(level="relu2_1", data=str(photos), loss_net="random-vgg19", width=0.25, image_size=32,
                  batch_size=2, iterations=4, checkpoint_every=2, log_every=1, val=str(photos), val_every=2,
                  val_images=2, val_size=32)
    whole, _ = load_decoder_file(train_decoder(DecoderConfig(**common, output=str(tmp_path / "a")), progress=False))
    cut = DecoderConfig(**common, output=str(tmp_path / "b"))
    import fastnst.train_decoder as td

    class Stop(Exception):
        pass

    real = td.atomic_torch_save

    def save_then_stop(obj, path):
        real(obj, path)
        raise Stop  # killed right after the step-2 checkpoint

    td.atomic_torch_save = save_then_stop
    try:
        with pytest.raises(Stop):
            train_decoder(cut, progress=False)
    finally:
        td.atomic_torch_save = real
    resumed, _ = load_decoder_file(train_decoder(resume=str(tmp_path / "b"), progress=False))
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    rows = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]  # no step logged twice


def test_resume_with_more_iterations_extends_the_run(tmp_path):
    """A finished 4-step run (checkpoint at 2) extended to 6 steps: the logged rates follow a 6-step schedule."""
    import csv

    from fastnst.errors import UserError
    from fastnst.image import sample_content, save_image
    from fastnst.train import cosine_lr

    photos = tmp_path / "photos"
    photos.mkdir()
    save_image(photos / "p.png", sample_content()[:96, :128])
    cfg = DecoderConfig(level="relu1_1", data=str(photos), loss_net="random-vgg19", width=0.25, image_size=32,
                        batch_size=2, iterations=4, checkpoint_every=2, log_every=1, output=str(tmp_path / "run"))
    train_decoder(cfg, progress=False)
    with pytest.raises(UserError):
        train_decoder(resume=str(tmp_path / "run"), progress=False, iterations=2)
    train_decoder(resume=str(tmp_path / "run"), progress=False, iterations=6)
    with open(tmp_path / "run" / "log.csv", newline="") as f:
        rates = {int(r["step"]): float(r["lr"]) for r in csv.DictReader(f)}
    assert sorted(rates) == [1, 2, 3, 4, 5, 6]
    assert rates[2] == pytest.approx(cosine_lr(cfg, 2, 4), rel=1e-4)
    for step in (3, 4, 5, 6):
        assert rates[step] == pytest.approx(cosine_lr(cfg, step, 6), rel=1e-4), step


@pytest.mark.slow
@pytest.mark.parametrize("level", sorted(SHIPPED_MIN_PSNR))
def test_the_shipped_decoder_reconstructs_held_out_photos(level, normalised_vgg):
    path = SHIPPED / f"decoder_{level}.pth"
    if not path.is_file():
        pytest.skip(f"{path} is not shipped")
    decoder, meta = load_decoder_file(path)
    encoder = build_encoder(f"vgg19-normalised:{normalised_vgg}", level)
    photos = validation_photos(str(need_shared(SHARED / "content" / "bsds500" / "val")), 8, 192)
    score = validation_psnr(decoder, encoder, level, photos)
    assert score > SHIPPED_MIN_PSNR[level], score
    assert abs(score - meta["val_psnr"]) < 0.5  # the fp16 file reconstructs as its training measured


def test_a_decoder_file_given_as_a_style_model_points_to_export_arbitrary(tmp_path):
    """`fastnst export DECODER.pth` (load_model_file) names the command that exports a decoder, not a bare refusal."""
    from fastnst.models import load_model_file

    save_decoder_file(tmp_path / "d.pth", Decoder("relu1_1", 0.25), {"level": "relu1_1"})
    with pytest.raises(UserError, match="export-arbitrary"):
        load_model_file(tmp_path / "d.pth")
