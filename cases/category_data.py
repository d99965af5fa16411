"""Standard case categories (GB/T 30428.2 / CJ/T 214-2007): components 部件 and incidents 事件.

Plain data only: no Django imports and no side effects, so it can be used from migrations,
management commands and tests alike.

Codes follow the national classification of city-management components and incidents
(CJ/T 214-2007, carried over into GB/T 30428.2) as reproduced by deployed digital-city-management
systems:

* Components: the full ordered 小类 list of every 部件 大类 (01 公用设施 0101-0138, 02 道路交通
  0201-0217, 03 市容环境 0301-0311, 04 园林绿化 0401-0410, 05 房屋土地 0501-0503, 06 其他设施
  0601-0606). Two independent implementations give these codes explicitly, and a third lists
  the same 小类 in the same order. Note 0110 is 热力井盖, 0113 消防设施, 0114 无主井盖 and
  0118 路灯. A Beijing variant agrees on 0101-0126 but renumbers class 02 after 0209.
* Incidents: 0101-0109, 0201-0204, 0301-0302, 0401-0404 and 0501-0510 are confirmed by two
  independent lists. The Beijing list uses local names for some of them, for example 新增建筑
  for 0101. 0110-0118, 0205, 0303-0305, 0405-0409 and 0511-0513 come from a single list that
  follows the same numbering. That list spells 0409 as 群发行事件, a typo for 群体性事件.
* Codes marked ``# local`` were not found in any source. Each is the next free code in its class.
  No standard 小类 list was found for incident class 06 其他事件, so all of its codes are local.

Only the subset a city typically handles as cases is listed; the omitted standard codes stay free
and must not be reused for something else.
"""

from __future__ import annotations

# SLA profiles: stage -> (amount, unit). Stages: "register", "dispatch", "acknowledge", "handle",
# "inspect". Units: "natural_minutes", "working_hours", "working_days".
SLA_PROFILES: dict[str, dict[str, tuple[int, str]]] = {
    # Immediate danger to life or property: the clock never stops.
    "emergency": {
        "register": (10, "natural_minutes"),
        "dispatch": (10, "natural_minutes"),
        "acknowledge": (15, "natural_minutes"),
        "handle": (120, "natural_minutes"),
        "inspect": (60, "natural_minutes"),
    },
    # Simple fixes (litter, small ads, street order): done within the working day.
    "quick": {
        "register": (1, "working_hours"),
        "dispatch": (1, "working_hours"),
        "acknowledge": (2, "working_hours"),
        "handle": (8, "working_hours"),
        "inspect": (4, "working_hours"),
    },
    # Most repairs and replacements.
    "standard": {
        "register": (2, "working_hours"),
        "dispatch": (2, "working_hours"),
        "acknowledge": (4, "working_hours"),
        "handle": (3, "working_days"),
        "inspect": (1, "working_days"),
    },
    # Structural work, demolition of illegal building, multi-department enforcement.
    "long": {
        "register": (4, "working_hours"),
        "dispatch": (4, "working_hours"),
        "acknowledge": (1, "working_days"),
        "handle": (15, "working_days"),
        "inspect": (2, "working_days"),
    },
}

# (family, code, name_zh, name_en); family is "component" or "incident"; code is 2 digits.
CLASSES: list[tuple[str, str, str, str]] = [
    ("component", "01", "公用设施", "Public facilities"),
    ("component", "02", "道路交通", "Roads and traffic"),
    ("component", "03", "市容环境", "City appearance and environment"),
    ("component", "04", "园林绿化", "Landscaping"),
    ("component", "05", "房屋土地", "Buildings and land"),
    ("component", "06", "其他设施", "Other facilities"),
    ("incident", "01", "市容环境", "City appearance and environment"),
    ("incident", "02", "宣传广告", "Advertising"),
    ("incident", "03", "施工管理", "Construction"),
    ("incident", "04", "突发事件", "Emergencies"),
    ("incident", "05", "街面秩序", "Street order"),
    ("incident", "06", "其他事件", "Other incidents"),
]

# Short aliases that keep the tables below one row per line.
_N, _U, _X = "normal", "urgent", "critical"
_EM, _QK, _ST, _LG = "emergency", "quick", "standard", "long"

# Per major class: (minor_code, name_zh, name_en, department_code, urgency, citizen_visible,
# sla_profile, duplicate_radius_m, duplicate_window_hours).
_Row = tuple[str, str, str, str | None, str, bool, str, int, int]

_TABLES: dict[tuple[str, str], list[_Row]] = {
    # 部件 01 公用设施
    ("component", "01"): [
        ("01", "上水井盖", "Water supply manhole cover", "SWJT", _U, True, _ST, 30, 72),
        ("02", "污水井盖", "Sewer manhole cover", "SWJT", _U, True, _ST, 30, 72),
        ("03", "雨水井盖", "Storm drain manhole cover", "SZGS", _U, True, _ST, 30, 72),
        ("04", "雨水箅子", "Storm drain grate", "SZGS", _N, True, _ST, 30, 72),
        ("05", "电力井盖", "Power manhole cover", "GDGS", _U, True, _ST, 30, 72),
        ("06", "路灯井盖", "Street light manhole cover", "SZGS", _U, True, _ST, 30, 72),
        ("07", "通讯井盖", "Telecom manhole cover", "TXGL", _U, True, _ST, 30, 72),
        ("08", "电视井盖", "Cable TV manhole cover", "TXGL", _U, True, _ST, 30, 72),
        ("10", "热力井盖", "Heating manhole cover", "ZJJ", _U, True, _ST, 30, 72),
        ("11", "燃气井盖", "Gas manhole cover", "RQGS", _U, True, _ST, 30, 72),
        ("12", "公安井盖", "Police manhole cover", "GAJ", _U, True, _ST, 30, 72),
        ("13", "消防设施", "Fire hydrant", "XFZD", _U, True, _ST, 30, 72),
        ("14", "无主井盖", "Ownerless manhole cover", "CGJ", _U, True, _ST, 30, 72),
        ("15", "通讯交接箱", "Telecom junction box", "TXGL", _N, False, _ST, 30, 168),
        ("16", "电力设施", "Power equipment", "GDGS", _U, True, _ST, 30, 72),
        ("17", "立杆", "Utility pole", "CGJ", _N, True, _ST, 30, 168),
        ("18", "路灯", "Street light", "SZGS", _N, True, _ST, 30, 72),
        ("20", "景观灯", "Decorative light", "CGJ", _N, True, _ST, 30, 168),
        ("21", "报刊亭", "Newsstand", "CGJ", _N, True, _ST, 30, 168),
        ("26", "健身设施", "Outdoor fitness equipment", "WGLJ", _N, True, _ST, 30, 168),
        ("29", "输油(气)井盖", "Oil/gas pipeline manhole cover", "RQGS", _U, False, _ST, 30, 72),
        ("34", "变压器(箱)", "Transformer box", "GDGS", _U, True, _ST, 30, 72),
        ("35", "燃气调压站(箱)", "Gas pressure regulator box", "RQGS", _U, True, _ST, 30, 72),
        ("36", "监控电子眼", "Surveillance camera", "GAJ", _N, True, _ST, 30, 168),
    ],
    # 部件 02 道路交通
    ("component", "02"): [
        ("01", "停车场", "Car park", "JJZD", _N, True, _ST, 100, 168),
        ("03", "公交站亭", "Bus shelter", "JTJ", _N, True, _ST, 30, 168),
        ("05", "过街天桥", "Pedestrian overpass", "SZGS", _U, True, _LG, 50, 168),
        ("06", "地下通道", "Pedestrian underpass", "SZGS", _N, True, _ST, 50, 168),
        ("07", "高架立交桥", "Flyover", "SZGS", _U, True, _LG, 100, 168),
        ("08", "跨河桥", "River bridge", "SZGS", _U, True, _LG, 100, 168),
        ("09", "交通标志牌", "Traffic sign", "JJZD", _N, True, _ST, 30, 168),
        ("10", "交通信号灯", "Traffic signal", "JJZD", _U, True, _ST, 30, 24),
        ("11", "交通护栏", "Guardrail", "SZGS", _N, True, _ST, 50, 72),
        ("12", "存车支架", "Bicycle rack", "CGJ", _N, True, _ST, 30, 168),
        ("13", "路名牌", "Street name sign", "MZJ", _N, True, _ST, 30, 168),
        ("17", "交通岗亭", "Traffic police booth", "JJZD", _N, True, _ST, 30, 168),
    ],
    # 部件 03 市容环境
    ("component", "03"): [
        ("01", "公共厕所", "Public toilet", "CGJ", _N, True, _ST, 30, 48),
        ("02", "化粪池", "Septic tank", "CGJ", _U, True, _ST, 30, 48),
        ("03", "公厕指示牌", "Public toilet sign", "CGJ", _N, True, _ST, 30, 168),
        ("04", "垃圾间(楼)", "Refuse collection station", "CGJ", _N, True, _ST, 50, 48),
        ("05", "垃圾箱", "Trash bin", "CGJ", _N, True, _QK, 30, 48),
        ("06", "灯箱霓虹灯", "Light box / neon sign", "CGJ", _N, True, _ST, 30, 168),
        ("07", "广告牌匾", "Billboard / shop sign", "CGJ", _N, True, _ST, 30, 168),
        ("08", "环保监测站", "Environmental monitoring station", "STHJ", _N, False, _ST, 30, 168),
    ],
    # 部件 04 园林绿化
    ("component", "04"): [
        ("01", "古树名木", "Heritage tree", "YLJ", _U, True, _ST, 30, 168),
        ("02", "行道树", "Street tree", "YLJ", _N, True, _ST, 30, 72),
        ("03", "护树设施", "Tree guard", "YLJ", _N, True, _ST, 30, 168),
        ("04", "花架花钵", "Planter", "YLJ", _N, True, _ST, 30, 168),
        ("05", "绿地", "Green space", "YLJ", _N, True, _ST, 100, 168),
        ("06", "雕塑", "Sculpture", "YLJ", _N, True, _ST, 30, 168),
        ("07", "街头坐椅", "Street bench", "YLJ", _N, True, _ST, 30, 168),
        ("08", "绿地护栏", "Green space fence", "YLJ", _N, True, _ST, 50, 168),
        ("11", "枯死树木", "Dead tree", "YLJ", _U, True, _ST, 30, 168),  # local
    ],
    # 部件 05 房屋土地
    ("component", "05"): [
        ("01", "宣传栏", "Notice board", "CGJ", _N, True, _ST, 30, 168),
        ("02", "人防工事", "Civil air-defence shelter", "ZJJ", _N, False, _ST, 50, 168),
        ("03", "公房地下室", "Public housing basement", "ZJJ", _N, False, _ST, 50, 168),
        ("04", "危房", "Dangerous building", "ZJJ", _U, True, _LG, 50, 168),  # local
    ],
    # 部件 06 其他设施
    ("component", "06"): [
        ("01", "重大危险源", "Major hazard installation", "YJGL", _U, False, _ST, 100, 168),
        ("02", "工地", "Construction site", "ZJJ", _N, True, _ST, 150, 168),
        ("03", "水域附属设施", "Waterway facility", "SLJ", _N, True, _ST, 100, 168),
        ("04", "水域护栏", "Waterside railing", "SLJ", _U, True, _ST, 50, 72),
        ("05", "港监设施", "Harbour supervision facility", "JTJ", _N, True, _ST, 100, 168),
        ("06", "防汛墙", "Flood wall", "SLJ", _U, True, _LG, 100, 168),
        ("07", "测量标志", "Survey marker", "ZRZY", _N, False, _ST, 30, 168),  # local
    ],
    # 事件 01 市容环境
    ("incident", "01"): [
        ("01", "私搭乱建", "Illegal building", "CGJ", _N, True, _LG, 50, 168),
        ("02", "暴露垃圾", "Exposed garbage", "CGJ", _N, True, _QK, 50, 24),
        ("03", "积存垃圾渣土", "Accumulated waste and muck", "CGJ", _N, True, _ST, 80, 72),
        ("04", "道路不洁", "Dirty road", "CGJ", _N, True, _QK, 100, 24),
        ("05", "水域不洁", "Polluted waterway", "SLJ", _N, True, _ST, 200, 72),
        ("06", "绿地脏乱", "Littered green space", "YLJ", _N, True, _QK, 80, 48),
        ("07", "废弃车辆", "Abandoned vehicle", "JJZD", _N, True, _ST, 30, 168),
        ("08", "废弃家具设备", "Discarded furniture", "CGJ", _N, True, _QK, 30, 72),
        ("09", "非装饰性树挂", "Items hung on trees", "CGJ", _N, True, _QK, 30, 72),
        ("10", "道路破损", "Damaged road surface", "SZGS", _N, True, _ST, 50, 168),
        ("11", "河堤破损", "Damaged embankment", "SLJ", _U, True, _LG, 100, 168),
        ("12", "道路遗撒", "Road spillage", "CGJ", _N, True, _QK, 100, 24),
        ("13", "建筑物外立面不洁", "Dirty building facade", "CGJ", _N, True, _ST, 50, 168),
        ("14", "水域秩序问题", "Waterway disorder", "SLJ", _N, True, _ST, 200, 72),
        ("15", "焚烧垃圾、树叶", "Burning waste or leaves", "CGJ", _U, True, _QK, 100, 24),
        ("16", "油烟污染", "Cooking fume pollution", "STHJ", _N, True, _ST, 50, 168),
        ("17", "动物尸体清理", "Animal carcass", "CGJ", _N, True, _QK, 30, 24),
        ("18", "擅自饲养家禽家畜", "Unauthorised livestock keeping", "CGJ", _N, True, _ST, 50, 168),
        ("19", "侵占毁坏绿地", "Green-belt damage", "YLJ", _N, True, _ST, 80, 168),  # local
    ],
    # 事件 02 宣传广告
    ("incident", "02"): [
        ("01", "非法小广告", "Illegal small advertising", "CGJ", _N, True, _QK, 50, 48),
        ("02", "违章张贴悬挂广告牌匾", "Unauthorised signboard", "CGJ", _N, True, _ST, 30, 168),
        ("03", "占道广告牌", "Billboard blocking the road", "CGJ", _N, True, _QK, 30, 72),
        ("04", "街头散发广告", "Leafleting", "CGJ", _N, True, _QK, 100, 24),
        ("05", "广告招牌破损", "Damaged shop sign", "CGJ", _U, True, _ST, 30, 72),
        ("06", "违规标语宣传品", "Unauthorised banner", "CGJ", _N, True, _QK, 50, 72),  # local
    ],
    # 事件 03 施工管理
    ("incident", "03"): [
        ("01", "施工扰民", "Construction noise", "STHJ", _N, True, _ST, 150, 72),
        ("02", "工地扬尘", "Construction dust", "ZJJ", _N, True, _ST, 200, 72),
        ("03", "施工废弃料", "Construction waste", "CGJ", _N, True, _ST, 80, 72),
        ("04", "施工占道", "Construction blocking the road", "CGJ", _N, True, _ST, 100, 72),
        ("05", "无证掘路", "Unpermitted road excavation", "CGJ", _U, True, _ST, 100, 72),
        ("06", "施工围挡破损", "Damaged site hoarding", "ZJJ", _N, True, _ST, 100, 72),  # local
        ("07", "渣土车未密闭运输", "Uncovered muck truck", "CGJ", _N, True, _QK, 200, 24),  # local
    ],
    # 事件 04 突发事件
    ("incident", "04"): [
        ("01", "路面塌陷", "Pavement collapse", "SZGS", _X, True, _EM, 50, 24),
        ("02", "自来水管破裂", "Water main burst", "SWJT", _X, True, _EM, 100, 24),
        ("03", "燃气管道破裂", "Gas leak", "RQGS", _X, True, _EM, 150, 24),
        ("04", "下水道堵塞或破损", "Sewer blockage", "SWJT", _U, True, _EM, 50, 48),
        ("05", "热力管道破裂", "Heating pipe burst", "ZJJ", _X, True, _EM, 100, 24),
        ("06", "道路积水", "Road waterlogging", "SZGS", _U, True, _EM, 200, 24),
        ("07", "道路积雪结冰", "Snow or ice on road", "CGJ", _U, True, _EM, 200, 24),
        ("08", "架空线缆损坏", "Damaged overhead cable", "GDGS", _U, True, _EM, 50, 24),
        ("09", "群体性事件", "Mass gathering incident", "GAJ", _X, False, _EM, 200, 24),
        ("10", "火灾", "Fire", "XFZD", _X, True, _EM, 150, 24),  # local
    ],
    # 事件 05 街面秩序
    ("incident", "05"): [
        ("01", "无照经营游商", "Street vending", "CGJ", _N, True, _QK, 100, 24),
        ("02", "流浪乞讨", "Begging and vagrancy", "MZJ", _N, True, _QK, 100, 24),
        ("03", "占道废品收购", "Scrap collecting on the street", "CGJ", _N, True, _QK, 50, 48),
        ("04", "店外经营", "Trading outside the shop", "CGJ", _N, True, _QK, 30, 48),
        ("05", "机动车乱停放", "Illegal parking", "JJZD", _N, True, _QK, 50, 24),
        ("06", "非机动车乱停放", "Disorderly bicycle parking", "CGJ", _N, True, _QK, 50, 24),
        ("07", "乱堆物堆料", "Goods piled on the street", "CGJ", _N, True, _QK, 50, 48),
        ("08", "商业噪音", "Commercial noise", "CGJ", _N, True, _QK, 100, 24),
        ("09", "黑车拉客", "Unlicensed taxi touting", "JTJ", _N, True, _QK, 100, 24),
        ("10", "露天烧烤", "Open-air barbecue", "CGJ", _N, True, _QK, 80, 24),
        ("11", "沿街晾挂", "Laundry hung along the street", "CGJ", _N, True, _QK, 30, 48),
        ("12", "非法出版物销售", "Sale of illegal publications", "WGLJ", _N, True, _QK, 100, 48),
        ("13", "空调室外机低挂", "Low-mounted AC unit", "CGJ", _N, True, _ST, 30, 168),
    ],
    # 事件 06 其他事件 (no standard minor list found: all codes local)
    ("incident", "06"): [
        ("01", "违法占地", "Illegal land occupation", "ZRZY", _N, True, _LG, 100, 168),
        ("02", "无障碍设施问题", "Accessibility facility problem", "ZJJ", _N, True, _ST, 30, 72),
        ("03", "校园周边环境问题", "School surroundings problem", "JYJ", _N, True, _ST, 200, 72),
        ("04", "不文明养犬", "Uncontrolled dog", "GAJ", _N, True, _QK, 100, 24),
        ("05", "非法行医", "Illegal medical practice", "WJW", _N, True, _LG, 50, 168),
        ("06", "无证照经营门店", "Unlicensed shop", "SCJG", _N, True, _LG, 30, 168),
        ("07", "公共设施损坏(权属不明)", "Ownerless facility damage", None, _N, True, _ST, 30, 72),
        ("08", "流浪动物", "Stray animals", None, _N, True, _QK, 100, 48),
        ("09", "其他事件", "Other", None, _N, False, _ST, 50, 72),
    ],
}

# (family, class_code, minor_code, name_zh, name_en, department_code, urgency, citizen_visible,
#  sla_profile, duplicate_radius_m, duplicate_window_hours)
CATEGORIES: list[tuple[str, str, str, str, str, str | None, str, bool, str, int, int]] = [
    (family, class_code, *row) for (family, class_code), rows in _TABLES.items() for row in rows
]
