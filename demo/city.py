"""A demo city at Changzhou's real scale.

7 districts, 62 subdistricts, 1,030 communities and 5,891 grids, laid over
the real extent of Changzhou (about 119.2-120.2 E, 31.2-32.0 N). Each level
tiles its parent exactly: an area is split among its children by a treemap
that weights every child at random (log-normal), cutting across the longer
side, so sizes and shapes vary the way real grids do (small dense ones, large
rural ones) while siblings share edges exactly and never overlap. The same
seed always gives the same city.

District names and GB/T 2260 codes are Changzhou's own; names below district
level are generated.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import connection, transaction

from grids.models import Area, Level

CITY = ("320400", "常州市", "Changzhou")
CITY_EXTENT = (119.20, 31.20, 120.20, 32.00)  # min lng, min lat, max lng, max lat

# (GB/T 2260 code, name, English name, number of subdistricts)
DISTRICTS = [
    ("320402", "天宁区", "Tianning District", 9),
    ("320404", "钟楼区", "Zhonglou District", 8),
    ("320411", "新北区", "Xinbei District", 10),
    ("320412", "武进区", "Wujin District", 14),
    ("320413", "金坛区", "Jintan District", 7),
    ("320471", "常州经济开发区", "Changzhou Economic Development Zone", 5),
    ("320481", "溧阳市", "Liyang", 9),
]
COMMUNITY_COUNT = 1030
GRID_COUNT = 5891
EXPECTED_COUNTS = {
    Level.CITY: 1,
    Level.DISTRICT: len(DISTRICTS),
    Level.SUBDISTRICT: sum(d[3] for d in DISTRICTS),
    Level.COMMUNITY: COMMUNITY_COUNT,
    Level.GRID: GRID_COUNT,
}

# Subdistrict / town name stems with their pinyin.
SUBDISTRICT_STEMS = [
    ("青龙", "Qinglong"),
    ("茶山", "Chashan"),
    ("红梅", "Hongmei"),
    ("雕庄", "Diaozhuang"),
    ("兰陵", "Lanling"),
    ("天宁", "Tianning"),
    ("南大街", "Nandajie"),
    ("荷花池", "Hehuachi"),
    ("五星", "Wuxing"),
    ("永红", "Yonghong"),
    ("北港", "Beigang"),
    ("西林", "Xilin"),
    ("新闸", "Xinzha"),
    ("邹区", "Zouqu"),
    ("河海", "Hehai"),
    ("三井", "Sanjing"),
    ("龙虎塘", "Longhutang"),
    ("新桥", "Xinqiao"),
    ("薛家", "Xuejia"),
    ("春江", "Chunjiang"),
    ("孟河", "Menghe"),
    ("西夏墅", "Xixiashu"),
    ("罗溪", "Luoxi"),
    ("奔牛", "Benniu"),
    ("湖塘", "Hutang"),
    ("牛塘", "Niutang"),
    ("南夏墅", "Nanxiashu"),
    ("西湖", "Xihu"),
    ("洛阳", "Luoyang"),
    ("遥观", "Yaoguan"),
    ("横林", "Henglin"),
    ("横山桥", "Hengshanqiao"),
    ("礼嘉", "Lijia"),
    ("前黄", "Qianhuang"),
    ("雪堰", "Xueyan"),
    ("嘉泽", "Jiaze"),
    ("湟里", "Huangli"),
    ("尧塘", "Yaotang"),
    ("西城", "Xicheng"),
    ("东城", "Dongcheng"),
    ("金城", "Jincheng"),
    ("儒林", "Rulin"),
    ("直溪", "Zhixi"),
    ("朱林", "Zhulin"),
    ("薛埠", "Xuebu"),
    ("指前", "Zhiqian"),
    ("溧城", "Licheng"),
    ("昆仑", "Kunlun"),
    ("古县", "Guxian"),
    ("埭头", "Daitou"),
    ("上黄", "Shanghuang"),
    ("戴埠", "Daibu"),
    ("天目湖", "Tianmuhu"),
    ("别桥", "Bieqiao"),
    ("上兴", "Shangxing"),
    ("竹箦", "Zhuze"),
    ("南渡", "Nandu"),
    ("社渚", "Shezhu"),
    ("戚墅堰", "Qishuyan"),
    ("丁堰", "Dingyan"),
    ("潞城", "Lucheng"),
    ("横山", "Hengshan"),
]
COMMUNITY_FIRST = [
    ("春", "Chun"),
    ("秋", "Qiu"),
    ("华", "Hua"),
    ("新", "Xin"),
    ("和", "He"),
    ("平", "Ping"),
    ("安", "An"),
    ("康", "Kang"),
    ("兴", "Xing"),
    ("盛", "Sheng"),
    ("丽", "Li"),
    ("锦", "Jin"),
    ("翠", "Cui"),
    ("金", "Jin"),
    ("玉", "Yu"),
    ("明", "Ming"),
    ("光", "Guang"),
    ("东", "Dong"),
    ("西", "Xi"),
    ("南", "Nan"),
    ("北", "Bei"),
    ("青", "Qing"),
    ("白", "Bai"),
    ("红", "Hong"),
]
COMMUNITY_SECOND = [
    ("园", "yuan"),
    ("苑", "yuan"),
    ("里", "li"),
    ("庄", "zhuang"),
    ("湾", "wan"),
    ("桥", "qiao"),
    ("港", "gang"),
    ("塘", "tang"),
    ("坊", "fang"),
    ("河", "he"),
    ("城", "cheng"),
    ("岸", "an"),
    ("山", "shan"),
    ("林", "lin"),
    ("亭", "ting"),
]

Rect = tuple[float, float, float, float]


@dataclass
class Node:
    level: Level
    code: str
    name: str
    name_en: str
    rect: Rect
    children: list[Node] = field(default_factory=list)


def allocate(total: int, parts: int, rng: random.Random, *, minimum: int = 1) -> list[int]:
    """Split ``total`` into ``parts`` random positive counts (largest remainder)."""
    weights = [rng.lognormvariate(0.0, 0.45) for _ in range(parts)]
    spare = total - minimum * parts
    if spare < 0:
        raise ValueError(f"cannot split {total} into {parts} parts of at least {minimum}")
    scale = spare / sum(weights)
    raw = [w * scale for w in weights]
    counts = [math.floor(r) for r in raw]
    by_remainder = sorted(range(parts), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in by_remainder[: spare - sum(counts)]:
        counts[i] += 1
    return [c + minimum for c in counts]


def partition(rect: Rect, weights: Sequence[float]) -> list[Rect]:
    """Tile ``rect`` with one rectangle per weight, areas proportional to the
    weights. Each cut coordinate is computed once and used on both sides, so
    neighbours share their edge exactly."""
    if len(weights) == 1:
        return [rect]
    total = sum(weights)
    running, split, best = 0.0, 1, math.inf
    for i in range(1, len(weights)):
        running += weights[i - 1]
        gap = abs(running - total / 2)
        if gap < best:
            best, split = gap, i
    fraction = sum(weights[:split]) / total
    x0, y0, x1, y1 = rect
    # Compare sides in metres-ish: a degree of longitude shrinks with latitude.
    width = (x1 - x0) * math.cos(math.radians((y0 + y1) / 2))
    if width >= (y1 - y0):
        cut = x0 + (x1 - x0) * fraction
        first, second = (x0, y0, cut, y1), (cut, y0, x1, y1)
    else:
        cut = y0 + (y1 - y0) * fraction
        first, second = (x0, y0, x1, cut), (x0, cut, x1, y1)
    return partition(first, weights[:split]) + partition(second, weights[split:])


def _children(rect: Rect, count: int, rng: random.Random) -> list[Rect]:
    return partition(rect, [rng.lognormvariate(0.0, 0.6) for _ in range(count)])


def build_tree(seed: int = 2026) -> Node:
    """The whole city as an in-memory tree of rectangles."""
    rng = random.Random(seed)
    code, name, name_en = CITY
    city = Node(Level.CITY, code, name, name_en, CITY_EXTENT)
    subdistrict_total = EXPECTED_COUNTS[Level.SUBDISTRICT]
    communities_per_subdistrict = allocate(COMMUNITY_COUNT, subdistrict_total, rng, minimum=6)
    grids_per_community = allocate(GRID_COUNT, COMMUNITY_COUNT, rng, minimum=2)
    stems = iter(SUBDISTRICT_STEMS)
    community_counts = iter(communities_per_subdistrict)
    grid_counts = iter(grids_per_community)

    district_rects = partition(CITY_EXTENT, [d[3] * rng.uniform(0.7, 1.3) for d in DISTRICTS])
    for (d_code, d_name, d_name_en, n_sub), d_rect in zip(DISTRICTS, district_rects, strict=True):
        district = Node(Level.DISTRICT, d_code, d_name, d_name_en, d_rect)
        city.children.append(district)
        for s_index, s_rect in enumerate(_children(d_rect, n_sub, rng), start=1):
            stem, stem_en = next(stems)
            town = d_code == "320481" or (d_code in ("320412", "320413") and s_index > 4)
            suffix, suffix_en = ("镇", "Town") if town else ("街道", "Subdistrict")
            subdistrict = Node(
                Level.SUBDISTRICT,
                f"{d_code}{s_index:03d}",
                f"{stem}{suffix}",
                f"{stem_en} {suffix_en}",
                s_rect,
            )
            district.children.append(subdistrict)
            n_comm = next(community_counts)
            names = rng.sample(
                [
                    (a + b, a_en + b_en)
                    for a, a_en in COMMUNITY_FIRST
                    for b, b_en in COMMUNITY_SECOND
                ],
                n_comm,
            )
            for c_index, c_rect in enumerate(_children(s_rect, n_comm, rng), start=1):
                c_name, c_name_en = names[c_index - 1]
                kind, kind_en = ("村", "Village") if town else ("社区", "Community")
                community = Node(
                    Level.COMMUNITY,
                    f"{subdistrict.code}{c_index:03d}",
                    f"{c_name}{kind}",
                    f"{c_name_en} {kind_en}",
                    c_rect,
                )
                subdistrict.children.append(community)
                n_grid = next(grid_counts)
                for g_index, g_rect in enumerate(_children(c_rect, n_grid, rng), start=1):
                    community.children.append(
                        Node(
                            Level.GRID,
                            f"{community.code}{g_index:03d}",
                            f"{community.name}第{g_index}网格",
                            f"Grid {g_index}, {community.name_en}",
                            g_rect,
                        )
                    )
    return city


def _polygon(rect: Rect) -> MultiPolygon:
    x0, y0, x1, y1 = rect
    ring = ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))
    return MultiPolygon(Polygon(ring), srid=4326)


def demo_city_present() -> bool:
    city = Area.objects.filter(code=CITY[0]).first()
    if city is None:
        return False
    return Area.objects.subtree(city).counts_by_level() == EXPECTED_COUNTS


class DemoCityInUse(RuntimeError):
    pass


def delete_demo_city() -> None:
    """Remove the demo city with what refers to it: grid assignments, role
    memberships and departments in it, then its areas deepest first."""
    from grids.models import GridAssignment
    from organisation.models import Department, RoleMembership

    city = Area.objects.filter(code=CITY[0]).first()
    if city is None:
        return
    from django.contrib.auth.models import Group

    from cases.models import Case, Category, RoutingRule

    if Case.objects.filter(area_path__startswith=city.path).exists():
        raise DemoCityInUse(
            "The demo city has cases. Their history is append-only, so the city cannot be "
            "replaced; start from an empty database instead."
        )
    subtree = Area.objects.subtree(city)
    departments = Department.objects.filter(jurisdiction__in=subtree)
    Category.objects.filter(default_department__in=departments).update(default_department=None)
    RoutingRule.objects.filter(department__in=departments).delete()
    groups = [d.group_id for d in departments if d.group_id]
    GridAssignment.objects.filter(grid__in=subtree).delete()
    RoleMembership.objects.filter(area__in=subtree).delete()
    RoleMembership.objects.filter(department__in=departments).delete()
    departments.delete()
    Group.objects.filter(pk__in=groups).delete()
    for level in sorted(Level, reverse=True):
        Area.objects.subtree(city).filter(level=level).delete()


@transaction.atomic
def create_demo_city(seed: int = 2026) -> Area:
    """Write the demo city level by level with bulk inserts."""
    root = build_tree(seed)
    parents: list[tuple[Node, Area | None]] = [(root, None)]
    city_area = None
    while parents:
        rows = [
            Area(
                level=node.level,
                code=node.code,
                name=node.name,
                name_en=node.name_en,
                parent=parent,
                boundary=_polygon(node.rect),
            )
            for node, parent in parents
        ]
        created = Area.objects.bulk_create(rows, batch_size=1000)
        if city_area is None:
            city_area = created[0]
        parents = [
            (child, area)
            for (node, _), area in zip(parents, created, strict=True)
            for child in node.children
        ]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE grids_area")
    city_area.refresh_from_db()
    return city_area
