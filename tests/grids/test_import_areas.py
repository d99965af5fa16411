import json
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from grids.importing import ImportFileError, import_areas
from grids.models import Area

pytestmark = pytest.mark.django_db


def box(x0, y0, x1, y1):
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def feature(code, level, coordinates, *, name=None, geometry_type="Polygon", **props):
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name or f"区域{code}", "level": level, **props},
        "geometry": {"type": geometry_type, "coordinates": coordinates}
        if coordinates is not None
        else None,
    }


def tree_features():
    return [
        feature("320400", "city", box(119.8, 31.6, 120.1, 31.9), name_en="Changzhou"),
        feature("320402", "district", box(119.8, 31.6, 120.1, 31.9), parent_code="320400"),
        feature("320402001", 3, box(119.9, 31.7, 119.96, 31.74)),
        feature("320402001001", "community", box(119.9, 31.7, 119.96, 31.74)),
        feature("320402001001001", "grid", box(119.9, 31.7, 119.93, 31.74)),
        feature(
            "320402001001002",
            "grid",
            [box(119.93, 31.7, 119.96, 31.74)],
            geometry_type="MultiPolygon",
        ),
    ]


def write(tmp_path: Path, features, name="areas.geojson", crs=None) -> Path:
    collection = {"type": "FeatureCollection", "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path = tmp_path / name
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def run(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_areas", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_good_file_creates_the_whole_tree_parents_first(tmp_path):
    # Given features in an order where children come before parents
    path = write(tmp_path, list(reversed(tree_features())))

    out, _ = run(path)

    assert "created 6, updated 0, unchanged 0, rejected 0" in out
    grid = Area.objects.get(code="320402001001002")
    assert grid.parent.code == "320402001001"
    assert grid.path.count("/") == 6
    assert Area.objects.get(code="320400").name_en == "Changzhou"


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    path = write(tmp_path, tree_features())
    run(path)
    before = dict(Area.objects.values_list("code", "updated_at"))

    out, _ = run(path)

    assert "created 0, updated 0, unchanged 6, rejected 0" in out
    assert dict(Area.objects.values_list("code", "updated_at")) == before


def test_changed_features_are_updated_by_code(tmp_path):
    run(write(tmp_path, tree_features()))
    features = tree_features()
    features[4]["properties"]["name"] = "新名字"
    features[5]["geometry"]["coordinates"] = [box(119.93, 31.7, 119.955, 31.74)]

    out, _ = run(write(tmp_path, features, name="v2.geojson"))

    assert "created 0, updated 2, unchanged 4, rejected 0" in out
    assert Area.objects.get(code="320402001001001").name == "新名字"
    assert Area.objects.get(code="320402001001002").boundary.extent[2] == pytest.approx(119.955)


def test_shapefile_is_read_through_gdal(tmp_path):
    geojson = write(tmp_path, tree_features())
    shapefile = tmp_path / "areas.shp"
    subprocess.run(
        ["ogr2ogr", "-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", str(shapefile), str(geojson)],
        check=True,
    )

    out, _ = run(shapefile)

    assert "created 6" in out
    assert Area.objects.get(code="320402001").name == "区域320402001"


def test_projected_file_is_reprojected_to_wgs84(tmp_path):
    # Web Mercator metres for a grid around (119.95, 31.72)
    run(write(tmp_path, tree_features()[:4]))
    x0, y0, x1, y1 = 13352800.0, 3726000.0, 13353800.0, 3727000.0
    path = write(
        tmp_path,
        [feature("320402001001003", "grid", box(x0, y0, x1, y1))],
        name="mercator.geojson",
        crs="urn:ogc:def:crs:EPSG::3857",
    )

    out, _ = run(path)

    assert "created 1" in out
    lng0, lat0, lng1, lat1 = Area.objects.get(code="320402001001003").boundary.extent
    assert 119.9 < lng0 < lng1 < 120.0
    assert 31.6 < lat0 < lat1 < 31.8


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda fs: fs[4]["properties"].update(level="village"), "unknown level 'village'"),
        (lambda fs: fs[4]["properties"].update(level="community"), "wrong level"),
        (lambda fs: fs[4]["properties"].update(parent_code="320402001"), "wrong level"),
        (lambda fs: fs[4].update(geometry=None), "no geometry"),
        (
            lambda fs: fs[4]["geometry"].update(
                coordinates=[
                    [[119.9, 31.7], [119.93, 31.74], [119.93, 31.7], [119.9, 31.74], [119.9, 31.7]]
                ]
            ),
            "not a valid geometry",
        ),
        (
            lambda fs: fs[4].update(geometry={"type": "Point", "coordinates": [119.9, 31.7]}),
            "polygon",
        ),
        (lambda fs: fs[4]["properties"].update(code="320402009001001"), "unknown"),
        (lambda fs: fs[4]["properties"].update(code="32040200100100"), "15 digits"),
        (lambda fs: fs[4]["properties"].update(name=""), "name is missing"),
        (lambda fs: fs.append(fs[5]), "more than once"),
    ],
)
def test_bad_feature_is_named_with_its_reason_and_nothing_is_imported(tmp_path, mutate, reason):
    features = tree_features()
    mutate(features)
    path = write(tmp_path, features)

    with pytest.raises(CommandError, match="nothing was imported"):
        run(path)

    report = import_areas(path)
    assert not report.applied
    assert any(reason in r.reason for r in report.rejected), report.rejected
    assert all(r.feature.startswith("feature #") for r in report.rejected)
    assert Area.objects.count() == 0


def test_children_of_a_rejected_parent_are_rejected_too(tmp_path):
    features = tree_features()
    features[3]["geometry"] = None  # the community

    report = import_areas(write(tmp_path, features))

    reasons = {r.code: r.reason for r in report.rejected}
    assert reasons["320402001001"] == "the feature has no geometry"
    assert reasons["320402001001001"] == "its parent 320402001001 was rejected"
    assert reasons["320402001001002"] == "its parent 320402001001 was rejected"


def test_skip_invalid_imports_the_valid_part(tmp_path):
    features = tree_features()
    features[5]["properties"]["level"] = "town"

    out, err = run(write(tmp_path, features), "--skip-invalid")

    assert "created 5, updated 0, unchanged 0, rejected 1" in out
    assert "feature #6 (code 320402001001002): unknown level 'town'" in err
    assert not Area.objects.filter(code="320402001001002").exists()


def test_a_failed_import_leaves_earlier_data_untouched(tmp_path):
    run(write(tmp_path, tree_features()))
    features = tree_features()
    features[0]["properties"]["name"] = "改名"
    features[4]["properties"]["level"] = "nonsense"

    with pytest.raises(CommandError):
        run(write(tmp_path, features, name="bad.geojson"))

    assert Area.objects.get(code="320400").name == "区域320400"


def test_dry_run_writes_nothing(tmp_path):
    out, _ = run(write(tmp_path, tree_features()), "--dry-run")

    assert "Dry run, nothing written: created 6" in out
    assert Area.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not geojson", "not a spatial data file"),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [{"type": "Feature", "properties": {"x": 1}, "geometry": None}],
                }
            ),
            "lacks the attribute",
        ),
    ],
)
def test_bad_file_is_refused_as_a_whole(tmp_path, content, message):
    path = tmp_path / "bad.geojson"
    path.write_text(content)

    with pytest.raises(CommandError, match=message):
        run(path)


def test_missing_file_and_remote_paths_are_refused(tmp_path):
    with pytest.raises(ImportFileError, match="no such file"):
        import_areas(tmp_path / "nope.geojson")
    with pytest.raises(ImportFileError, match="only local files"):
        import_areas("/vsicurl/http://example.invalid/areas.geojson")


def test_dry_run_with_rejections_fails_like_the_real_run(tmp_path):
    features = tree_features()
    features[4]["properties"]["level"] = "nonsense"

    with pytest.raises(CommandError, match="nothing was imported"):
        run(write(tmp_path, features), "--dry-run")


def test_3d_geometries_are_flattened(tmp_path):
    features = tree_features()
    features[4]["geometry"]["coordinates"] = [
        [[x, y, 12.5] for x, y in ring] for ring in features[4]["geometry"]["coordinates"]
    ]

    out, _ = run(write(tmp_path, features))

    assert "created 6" in out
    assert not Area.objects.get(code="320402001001001").boundary.hasz


def test_over_long_names_are_rejected_by_feature(tmp_path):
    features = tree_features()
    features[5]["properties"]["name"] = "长" * 101

    report = import_areas(write(tmp_path, features), skip_invalid=True)

    assert [r.code for r in report.rejected] == ["320402001001002"]
    assert "longer than 100" in report.rejected[0].reason
    assert report.applied and report.created == 5


def test_every_copy_of_a_duplicated_code_is_rejected(tmp_path):
    features = tree_features()
    features.append(feature("320402001001002", "grid", box(119.93, 31.7, 119.95, 31.74)))

    report = import_areas(write(tmp_path, features), skip_invalid=True)

    assert [r.code for r in report.rejected] == ["320402001001002", "320402001001002"]
    assert not Area.objects.filter(code="320402001001002").exists()


def test_vrt_files_are_refused(tmp_path):
    target = write(tmp_path, tree_features())
    vrt = tmp_path / "areas.vrt"
    vrt.write_text(
        f'<OGRVRTDataSource><OGRVRTLayer name="areas"><SrcDataSource>{target}'
        "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"
    )

    with pytest.raises(ImportFileError, match="may point at other files"):
        import_areas(vrt)
