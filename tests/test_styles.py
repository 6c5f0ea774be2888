"""The shipped styles and the recipes that reproduce them."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fastnst.config import TrainConfig, load_recipe
from fastnst.errors import UserError
from fastnst.models import PRESETS, load_model_file
from fastnst.styles import PAINTING_PRESETS, PRESET_NAMES, USES, find_style, list_styles, resolve_styles, style_file

RECIPES = sorted((Path(__file__).resolve().parents[1] / "training" / "recipes").glob("*.json"))


def test_recipes_are_valid_train_configs(tmp_path):
    assert RECIPES, "training/recipes/ is empty"
    for path in RECIPES:
        recipe = load_recipe(str(path), str(tmp_path))
        cfg = TrainConfig(**recipe, output=str(tmp_path / "run"))
        cfg.validate()
        assert cfg.preset in PRESETS
        styles = cfg.style_paths()
        assert all(s.startswith(str(tmp_path)) for s in styles) and cfg.data.startswith(str(tmp_path))
        assert cfg.loss_net == f"vgg19-normalised:{tmp_path}/weights/vgg_normalised_conv3_1.pth"
        if len(styles) == 1:  # a one-style recipe is named after its painting; a multi-style one freely
            assert path.stem == f"{Path(styles[0]).stem}_{cfg.preset}"
        else:
            assert path.stem.endswith(f"_{cfg.preset}") and len({Path(s).stem for s in styles}) == len(styles)


def test_recipe_with_unknown_key_is_a_user_error(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"style": "s.jpg", "learning_rate": 1}))
    with pytest.raises(UserError, match="learning_rate"):
        load_recipe(str(bad), None)


@pytest.mark.parametrize("style", list_styles(), ids=lambda s: s.path.name)
def test_shipped_style_loads_and_stylizes(style):
    model, meta = load_model_file(style.path)
    multi = model.num_styles > 1  # a multi-style file: its styles are named in meta["styles"]
    assert model.preset == style.preset
    assert len(meta["styles"]) == model.num_styles if multi else meta["style"] == style.name
    assert meta["loss_net"].startswith("vgg19-normalised:") and meta["iterations"] > 0
    assert style.size_bytes < 4_000_000  # kept small: fp16 weights
    x = torch.rand(1, 3, 67, 91)
    with torch.no_grad():
        y = model(x, torch.eye(model.num_styles)[0] if multi else None)
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    assert (y - x).abs().mean() > 0.05  # it changes the image


def test_lite_ships_five_styles_and_every_style_has_a_lite_model():
    shipped = list_styles()
    if not shipped:
        pytest.skip("no styles shipped yet")
    names: dict[str, set[str]] = {}
    for s in shipped:
        names.setdefault(s.preset, set()).add(s.name)
    assert set(names) <= set(PRESET_NAMES)
    assert len(names["lite"]) >= 5, names
    assert set().union(*names.values()) == names["lite"]  # a slower preset only beside a lite one
    for name in names["lite"]:
        assert find_style(name).preset == "lite"  # a bare name prefers the fast preset
    with pytest.raises(UserError, match="shipped style 'no_such_style'"):
        find_style("no_such_style")


def test_every_recipe_ships_and_every_shipped_model_has_its_recipe():
    """training/recipes/ reproduces each shipped model: same style, preset and steps."""
    recipes = {p.stem for p in RECIPES}
    assert recipes == {s.path.stem for s in list_styles()}
    for style in list_styles():
        recipe = json.loads((RECIPES[0].parent / f"{style.path.stem}.json").read_text())
        meta = load_model_file(style.path)[1]
        painting = recipe["style"] if isinstance(recipe["style"], list) else [recipe["style"]]
        assert meta["iterations"] == recipe["iterations"]
        assert meta.get("style_files", [meta["style_file"]]) == [Path(p).name for p in painting]
        assert meta["style_weight"] == recipe["style_weight"] and meta["image_size"] == recipe["image_size"]


@pytest.mark.parametrize("style", list_styles(), ids=lambda s: s.path.name)
def test_shipped_onnx_matches_its_model_file(style):
    """Every shipped .pth has its exported .onnx beside it, and the runtime reproduces PyTorch."""
    from fastnst.image import from_nchw, to_nchw
    from fastnst.quality import natural_image
    from fastnst.runtime import Stylizer

    onnx = style.path.with_suffix(".onnx")
    assert onnx.exists(), f"{onnx.name} is not shipped"
    stylizer = Stylizer(onnx, device="cpu")
    model, meta = load_model_file(style.path)
    multi = model.num_styles > 1  # the Stylizer runs a multi-style file's first style unless told
    assert (stylizer.style, stylizer.preset) == (meta["styles"][0] if multi else style.name, style.preset)
    frame = from_nchw(natural_image(75, 101, seed=3))
    weights = torch.eye(model.num_styles)[0] if multi else None
    with torch.no_grad():
        want = from_nchw(model.float().eval()(torch.from_numpy(to_nchw(frame)), weights).numpy())
    got = stylizer.stylize(frame)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 2  # 8-bit rounding of fp32 vs ORT


def test_styles_command_lists_bundled_onnx(tmp_path, monkeypatch, capsys):
    import fastnst.styles as styles
    from fastnst.cli import main

    (tmp_path / "wave_lite.onnx").write_bytes(b"x" * 10)
    (tmp_path / "starry_night_johnson.onnx").write_bytes(b"y" * 20)
    (tmp_path / "notes.txt").write_text("ignored")
    monkeypatch.setattr(styles, "PRETRAINED", tmp_path)
    assert main(["styles", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["preset"], s["bytes"]) for s in listed] == [("starry_night", "johnson", 20),
                                                                      ("wave", "lite", 10)]
    assert all(Path(s["path"]).exists() for s in listed)
    assert find_style("wave", suffix=".onnx").path == tmp_path / "wave_lite.onnx"
    assert main(["styles"]) == 0
    assert "starry_night" in capsys.readouterr().out


def test_style_file_names():
    s = style_file("a/starry_night_johnson.onnx")
    assert (s.name, s.preset, s.path) == ("starry_night", "johnson", Path("a/starry_night_johnson.onnx"))
    s = style_file("my_style_v2.onnx")  # the part after the last _ is not a preset: a style of its own
    assert (s.name, s.preset) == ("my_style_v2", None)


def test_resolve_styles_files_names_and_errors(tmp_path, monkeypatch):
    import fastnst.styles as styles

    shipped = tmp_path / "pretrained"
    shipped.mkdir()
    for f in ("wave_johnson.onnx", "wave_lite.onnx", "scream_lite.onnx", "wave_lite.pth", "odd.onnx"):
        (shipped / f).write_bytes(b"x")
    monkeypatch.setattr(styles, "PRETRAINED", shipped)
    own = tmp_path / "mine.onnx"
    own.write_bytes(b"x")

    assert [(s.name, s.preset) for s in list_styles(".onnx")] == [("scream", "lite"), ("wave", "johnson"),
                                                                  ("wave", "lite")]
    assert resolve_styles(own) == [style_file(own)]
    assert [s.path.name for s in resolve_styles("wave")] == ["wave_lite.onnx", "wave_johnson.onnx"]  # fastest first
    assert [s.path.name for s in resolve_styles("wave_johnson")] == ["wave_johnson.onnx"]
    assert [s.path.name for s in resolve_styles("wave", ".pth")] == ["wave_lite.pth"]
    assert find_style("wave", suffix=".onnx").preset == "lite"
    assert find_style("wave", "johnson", ".onnx").path == shipped / "wave_johnson.onnx"
    assert find_style(own, suffix=".onnx").path == own
    with pytest.raises(UserError, match="not found"):
        resolve_styles(tmp_path / "missing.onnx")
    with pytest.raises(UserError, match=r"shipped style 'odd' \(shipped: scream, wave\)"):
        resolve_styles("odd")
    with pytest.raises(UserError, match="for preset johnson"):
        find_style("scream", "johnson", ".onnx")


def test_the_preference_table_covers_every_use_and_device():
    from fastnst.styles import PREFERENCE

    assert set(PREFERENCE) == {(use, gpu) for use in USES for gpu in (False, True)}
    for order in PREFERENCE.values():
        assert sorted(order) == sorted([*PRESET_NAMES, *PAINTING_PRESETS])  # every preset ranked, none twice
    assert PREFERENCE[("stream", False)][0] == "lite" and PREFERENCE[("stream", True)][0] == "johnson"


def test_a_painting_runs_the_fast_file_for_live_frames_on_a_cpu_and_three_levels_elsewhere(tmp_path):
    from fastnst.image import sample_style, save_image
    from fastnst.styles import ARBITRARY, ARBITRARY_FAST, choose

    painting = tmp_path / "painting.png"
    save_image(painting, sample_style(64))
    assert choose(str(painting), "stream", "cpu").file.path == ARBITRARY_FAST
    for use in ("image", "video", "any"):
        assert choose(str(painting), use, "cpu").file.path == ARBITRARY
    for use in USES:
        assert choose(str(painting), use, "cuda").file.path == ARBITRARY  # a GPU has time for the three levels
    assert {f.painting for f in resolve_styles(str(painting))} == {painting}


def test_catalog_groups_presets_and_picks_by_the_table(tmp_path, monkeypatch):
    import fastnst.styles as styles
    from fastnst.styles import PREFERENCE, Catalog, choose, pick

    shipped = tmp_path / "pretrained"
    shipped.mkdir()
    for f in ("wave_johnson.onnx", "wave_lite.onnx", "scream_lite.onnx"):
        (shipped / f).write_bytes(b"x")
    monkeypatch.setattr(styles, "PRETRAINED", shipped)
    own = tmp_path / "mine.onnx"
    own.write_bytes(b"x")

    catalog = Catalog(["wave_lite", "wave_johnson.onnx", own, "scream"])
    assert catalog.names == ["wave", "mine", "scream"]  # given order; two arguments of one style are one entry
    for (use, gpu), order in PREFERENCE.items():
        device = "cuda" if gpu else "cpu"  # named: nothing is opened or measured
        assert choose(catalog.entry("wave"), use, device).file.preset == order[0]
        assert pick("wave", use, gpu).preset == order[0]
        assert choose(catalog.entry("scream"), use, device).file.preset == "lite"  # the only one there is
        assert choose(catalog.entry("mine"), use, device).file.path == own
    assert [f.preset for f in Catalog(["wave_lite"]).styles["wave"]] == ["lite"]  # an exact name: that file only
    assert Catalog().names == ["scream", "wave"]  # None: every shipped style
    with pytest.raises(UserError, match="unknown style 'x'"):
        catalog.entry("x")
    with pytest.raises(UserError, match="no style file or shipped style 'candy'"):
        Catalog(["wave", "candy"])
    assert [s.path.name for s in resolve_styles("wave_lite.onnx")] == ["wave_lite.onnx"]  # a shipped file's name


def test_variant_file_names_and_the_table(tmp_path, monkeypatch):
    """Tagged copies (wave_lite.int8.onnx) are one style and preset; list_styles shows the plain file."""
    import fastnst.styles as styles
    from fastnst.styles import VARIANT_PREFERENCE, best_variant, variants

    f = style_file("wave_lite.int8.uint8io.onnx")
    assert (f.name, f.preset, f.precision, f.uint8_io, f.is_variant) == ("wave", "lite", "int8", True, True)
    assert style_file("wave_lite.uint8io.onnx").precision == "fp32"
    for odd in ("wave_lite.int8.fp16.onnx", "wave_lite.int8.int8.onnx", "wave_lite.foo.onnx"):
        assert style_file(odd).preset is None  # not a copy: a style of its own
    for name in ("wave_lite.onnx", "wave_lite.int8.onnx", "wave_lite.uint8io.onnx", "wave_johnson.onnx"):
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.setattr(styles, "PRETRAINED", tmp_path)
    plain = list_styles(".onnx")
    assert [(s.name, s.preset, s.is_variant) for s in plain] == [("wave", "johnson", False), ("wave", "lite", False)]
    lite = plain[1]
    assert [v.path.name for v in variants(lite)] == ["wave_lite.onnx", "wave_lite.int8.onnx", "wave_lite.uint8io.onnx"]
    assert style_file(tmp_path / "wave_lite.int8.onnx").exact_name == "wave_lite.int8.onnx"
    assert resolve_styles("wave_lite.int8.onnx")[0].precision == "int8"
    for runtime in ("cpu", "gpu", "openvino"):  # the first listed copy that exists
        order = VARIANT_PREFERENCE.get(("lite", runtime), VARIANT_PREFERENCE[(None, runtime)])
        have = {(v.precision, v.uint8_io) for v in variants(lite)}
        want = next((k for k in order if k in have), ("fp32", False))
        got = best_variant(lite, runtime)
        assert (got.precision, got.uint8_io) == want
    monkeypatch.setitem(VARIANT_PREFERENCE, ("lite", "cpu"), (("int8", False), ("fp32", False)))
    assert best_variant(lite, "cpu").path.name == "wave_lite.int8.onnx"
    assert best_variant(plain[0], "cpu").path.name == "wave_johnson.onnx"  # no copies: the plain file
    with pytest.raises(ValueError):
        best_variant(lite, "tpu")


def test_choose_takes_every_device_and_resolves_auto(monkeypatch):
    """choose: each device of the table as named (OpenVINO a CPU runtime); "auto" the GPU where one loads,
    else onnxruntime's CPU provider, or OpenVINO where it is installed and measured faster for its copy."""
    import fastnst.styles as styles
    from fastnst.runtime_devices import DEVICES
    from fastnst.styles import best_variant, choose, pick

    def no_measuring(candidates):
        raise AssertionError("a named device is never measured")

    monkeypatch.setattr(styles, "cpu_speeds", no_measuring)
    for name, device in DEVICES.items():
        c = choose("wave", "stream", name)
        assert c.device is device and c.measured == () and c.why == ""
        assert c.file == best_variant(pick("wave", "stream", device.gpu), device.runtime)
    assert not DEVICES["openvino"].gpu  # the CPU presets and the demo's CPU settings
    assert choose("wave_lite.onnx", "stream", "openvino").file.path.name == "wave_lite.onnx"  # a file: that file
    with pytest.raises(UserError, match="unknown device 'gpu'"):
        choose("wave", "stream", "gpu")

    monkeypatch.setattr(styles, "gpu_here", lambda probe: DEVICES["cuda"])
    assert choose("wave", "stream").device.name == "cuda"  # a GPU loads: nothing measured
    monkeypatch.setattr(styles, "gpu_here", lambda probe: None)
    monkeypatch.setattr(styles, "openvino_installed", lambda: False)
    assert choose("wave", "stream").device.name == "cpu"
    monkeypatch.setattr(styles, "openvino_installed", lambda: True)
    timed = []

    def speeds(ms):
        def measure(candidates):
            timed.append([(Path(p).name, d.name) for p, d in candidates])
            return ms
        return measure

    monkeypatch.setattr(styles, "cpu_speeds", speeds([44.0, 31.0]))
    c = choose("wave", "stream")
    assert timed[-1] == [("wave_lite.onnx", "cpu"), ("wave_lite.uint8io.onnx", "openvino")]  # each runtime's copy
    assert (c.device.name, c.file.path.name) == ("openvino", "wave_lite.uint8io.onnx")
    assert c.label == "wave (lite, uint8io) on openvino" and "31.0 ms" in c.why and "44.0 ms" in c.why
    monkeypatch.setattr(styles, "cpu_speeds", speeds([44.0, 50.0]))
    assert choose("wave", "stream").file.path.name == "wave_lite.onnx"  # slower: onnxruntime, its plain file
    monkeypatch.setattr(styles, "cpu_speeds", speeds([44.0, None]))  # OpenVINO could not run it
    assert choose("wave", "stream").device.name == "cpu"


# ----------------------------------------------------------------------------- multi-style files and blends


def test_parse_blend_reads_both_forms_and_names_round_trip():
    from fastnst.styles import blend_name, parse_blend

    assert parse_blend("wave") is None and parse_blend("wave_lite.onnx") is None
    assert parse_blend("wave+starry_night") == {"wave": 0.5, "starry_night": 0.5}
    assert parse_blend("wave:3,mondrian:1") == {"wave": 0.75, "mondrian": 0.25}
    for text in ("wave+starry_night", "wave:0.7,starry_night:0.3", "a+b+c"):
        assert parse_blend(blend_name(parse_blend(text))) == pytest.approx(parse_blend(text))
    for bad in ("wave+", "wave:x", "wave:-1,b:1", "a:0,b:0", "a+a", "a:inf"):
        with pytest.raises(UserError) as e:
            parse_blend(bad)
        assert "\n" not in str(e.value)


def _shipped_multi():
    from fastnst.styles import PRETRAINED, multi_styles

    found = [p for p in sorted(PRETRAINED.glob("*.onnx")) if multi_styles(p)]
    if not found:
        pytest.skip("no multi-style file shipped")
    return found[0], list(multi_styles(found[0]))


def test_styles_inside_a_multi_style_file_resolve_by_name_blend_and_at():
    path, names = _shipped_multi()
    singles = {s.name for s in list_styles(".onnx") if s.blend is None}
    only_inside = [n for n in names if n not in singles]
    if only_inside:  # a name only the multi-style file has resolves to it, that style
        (f,) = resolve_styles(only_inside[0])
        assert f.path == path and f.blend == only_inside[0]
    (f,) = resolve_styles(f"{names[0]}+{names[1]}")
    assert f.path == path and f.blend == f"{names[0]}+{names[1]}"
    (f,) = resolve_styles(f"{names[1]}@{path.stem}")
    assert f.path == path and f.blend == names[1] and f.exact_name == f"{names[1]}@{path.stem}"
    assert resolve_styles(f.exact_name) == [f]
    for bad in (f"{names[0]}+no_such_style", f"no_such_style@{path.stem}", f"{names[0]}@no_such_file"):
        with pytest.raises(UserError):
            resolve_styles(bad)
    for s in list_styles(".onnx"):  # a one-style file wins a name it shares with a multi-style file
        if s.blend is None:
            assert resolve_styles(s.name)[0].blend is None


def test_a_blend_argument_runs_the_blend(tmp_path):
    from fastnst.image import from_nchw
    from fastnst.quality import natural_image
    from fastnst.runtime import Stylizer, load_style

    path, names = _shipped_multi()
    frame = from_nchw(natural_image(60, 80, seed=1))
    blend = f"{names[0]}:0.25,{names[2]}:0.75"
    direct = Stylizer(path, device="cpu")
    direct.set_style({names[0]: 1, names[2]: 3})
    by_name = load_style(blend, device="cpu")
    assert by_name.path == str(path) and by_name.style_weights[2] == pytest.approx(0.75)
    assert np.array_equal(by_name.stylize(frame), direct.stylize(frame))


def test_a_whole_multi_style_file_offers_each_of_its_styles():
    from fastnst.styles import Catalog

    path, names = _shipped_multi()
    for item in (path.stem, str(path)):
        catalog = Catalog([item])
        assert catalog.names == names
        assert all(f.path == path and f.blend == n for n, (f,) in catalog.styles.items())
