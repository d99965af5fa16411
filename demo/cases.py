"""Demo cases for the demo city: a few dozen cases at every stage of the loop,
filed and worked through the services as the demo users, so the queues,
the event log and the deadlines look like a working day's."""

from __future__ import annotations

import io
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cases import services
from cases.models import Case, Category, Source, Status
from grids.models import Area
from organisation.models import Department, User

# How many demo cases to leave in each status.
TARGETS = [
    (Status.REPORTED, 8),
    (Status.VERIFYING, 3),  # citizens' tips, waiting for the grid worker to verify
    (Status.REGISTERED, 6),
    (Status.DISPATCHED, 8),
    (Status.RETURNED, 2),
    (Status.IN_PROGRESS, 10),
    (Status.SUSPENDED, 2),
    (Status.HANDLED, 6),
    (Status.CLOSED, 12),
    (Status.REJECTED, 2),
]

DESCRIPTIONS = {
    "BJ": "{name}损坏，影响通行安全，请尽快处理。",
    "SJ": "发现{name}问题，周边居民反映强烈。",
}


def _photo(seed: int) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (seed * 37 % 256, seed * 91 % 256, 120)).save(buffer, "JPEG")
    return SimpleUploadedFile(f"demo-{seed}.jpg", buffer.getvalue(), content_type="image/jpeg")


def create_demo_cases(*, seed: int = 2026) -> int:
    """Create the demo cases unless there are cases already; returns how many."""
    if Case.objects.exists():
        return 0
    rng = random.Random(seed)
    worker = User.objects.get(username="gridworker")
    dispatcher = User.objects.get(username="dispatcher")
    handler = User.objects.get(username="handler")
    cgj = Department.objects.get(code="CGJ")
    categories = list(Category.objects.filter(default_department=cgj, citizen_visible=True))
    # A point inside each of the demo grid worker's grids, read once.
    centres = [
        boundary.point_on_surface
        for boundary in Area.objects.filter(assignments__user=worker)
        .order_by("code")
        .values_list("boundary", flat=True)
    ]
    created = 0
    for status, count in TARGETS:
        for _ in range(count):
            created += 1
            category = rng.choice(categories)
            centre = rng.choice(centres)
            prefix = category.code[:2]
            tip = status == Status.VERIFYING
            case = services.case_report(
                reporter=None if tip else worker,
                source=Source.CITIZEN if tip else Source.GRID_WORKER,
                category=category,
                description=DESCRIPTIONS[prefix].format(name=category.name),
                lng=centre.x + rng.uniform(-0.0003, 0.0003),
                lat=centre.y + rng.uniform(-0.0003, 0.0003),
                photos=[_photo(created)],
            )
            _advance(case, status, worker, dispatcher, handler, created)
    return created


def _advance(case, status, worker, dispatcher, handler, seed) -> None:
    if status == Status.REPORTED:
        return
    if status == Status.VERIFYING:
        services.case_send_to_verify(case=case, actor=dispatcher, note="请现场核实")
        return
    if status == Status.REJECTED:
        services.case_reject(case=case, actor=dispatcher, reason="经核实不属于城市管理问题")
        return
    case = services.case_register(case=case, actor=dispatcher)
    if status == Status.REGISTERED:
        return
    case = services.case_dispatch(case=case, actor=dispatcher)
    if status == Status.DISPATCHED:
        return
    if status == Status.RETURNED:
        services.case_return(case=case, actor=handler, reason="不属于本部门职责")
        return
    case = services.case_acknowledge(case=case, actor=handler)
    if status == Status.IN_PROGRESS:
        return
    if status == Status.SUSPENDED:
        services.case_request_suspension(case=case, actor=handler, reason="需协调产权单位")
        services.case_approve_suspension(case=case, actor=dispatcher)
        return
    case = services.case_report_back(
        case=case, actor=handler, note="已处理完毕", photos=[_photo(seed + 1000)]
    )
    if status == Status.HANDLED:
        return
    services.case_inspect(case=case, actor=worker, passed=True, note="现场核查合格")


DEMO_API_KEY = "demo-open311-key"

# Questions reporters answer for a few categories (Open311 service attributes).
DEMO_QUESTIONS = {
    "BJ0101": [
        dict(code="hazard", datatype="singlevaluelist", required=True,
             description="是否有人员跌落风险？", description_en="Could someone fall in?",
             values=[{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]),
        dict(code="count", datatype="number", description="缺失的井盖数量",
             description_en="How many covers are missing?"),
    ],
}  # fmt: skip


def create_demo_open311() -> str:
    """A demo Open311 client and a few category questions; returns the api_key."""
    from cases.models import ApiClient, CategoryAttribute

    ApiClient.objects.get_or_create(
        api_key=DEMO_API_KEY, defaults={"name": "随手拍演示应用 (demo citizen app)"}
    )
    for code, questions in DEMO_QUESTIONS.items():
        category = Category.objects.filter(code=code).first()
        if category is None:
            continue
        for order, question in enumerate(questions):
            CategoryAttribute.objects.get_or_create(
                category=category,
                code=question["code"],
                defaults={**question, "order": order},
            )
    return DEMO_API_KEY
