"""Demo departments and one demo user per role, for the demo city (the
accounts and their published password: organisation.demo_accounts)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from grids.models import Area, GridAssignment, Level
from organisation.demo_accounts import DEMO_ACCOUNTS, DEMO_PASSWORD
from organisation.models import Department, Role, RoleMembership, User

# The 22 functional departments of a prefecture-level city's grid platform.
DEPARTMENTS = [
    ("CGJ", "市城市管理局", "Urban Management Bureau"),
    ("SZGS", "市政设施管理处", "Municipal Facilities Office"),
    ("ZJJ", "市住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    ("STHJ", "市生态环境局", "Ecology and Environment Bureau"),
    ("SLJ", "市水利局", "Water Resources Bureau"),
    ("GAJ", "市公安局", "Public Security Bureau"),
    ("JJZD", "市公安局交通警察支队", "Traffic Police Detachment"),
    ("JTJ", "市交通运输局", "Transport Bureau"),
    ("YLJ", "市园林绿化管理局", "Landscaping Bureau"),
    ("SCJG", "市市场监督管理局", "Market Regulation Bureau"),
    ("ZRZY", "市自然资源和规划局", "Natural Resources and Planning Bureau"),
    ("YJGL", "市应急管理局", "Emergency Management Bureau"),
    ("XFZD", "市消防救援支队", "Fire and Rescue Detachment"),
    ("WJW", "市卫生健康委员会", "Health Commission"),
    ("MZJ", "市民政局", "Civil Affairs Bureau"),
    ("JYJ", "市教育局", "Education Bureau"),
    ("WGLJ", "市文化广电和旅游局", "Culture, Radio, Television and Tourism Bureau"),
    ("NYNC", "市农业农村局", "Agriculture and Rural Affairs Bureau"),
    ("SWJT", "常州水务集团", "Changzhou Water Group"),
    ("GDGS", "常州供电公司", "Changzhou Power Supply Company"),
    ("RQGS", "常州港华燃气", "Changzhou Gas Company"),
    ("TXGL", "市通信管理办公室", "Telecommunications Administration Office"),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    scope: str


def create_departments(city: Area) -> list[Department]:
    # One by one, not bulk: saving gives each department its permission group.
    return [
        Department.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "jurisdiction": city}
        )[0]
        for code, name, name_en in DEPARTMENTS
    ]


@transaction.atomic
def create_demo_users(city: Area) -> list[DemoLogin]:
    """One demo user per role; safe to run again (updates in place)."""
    departments = {d.code: d for d in create_departments(city)}
    first_community = (
        Area.objects.subtree(city).filter(level=Level.COMMUNITY).without_geometry().first()
    )
    grids = list(
        Area.objects.filter(parent=first_community).without_geometry().order_by("code")[:3]
    )
    scopes = {
        Role.DISPATCHER: {"area": city},
        Role.HANDLER: {"department": departments["CGJ"]},
        Role.SUPERVISOR: {"area": city},
    }
    logins = []
    for username, display_name, role in DEMO_ACCOUNTS:
        scope = scopes.get(role, {})
        user, created = User.objects.get_or_create(username=username)
        if created:  # an existing account keeps its password and flags
            user.display_name = display_name
            user.is_staff = user.is_superuser = role == Role.ADMIN
            user.set_password(DEMO_PASSWORD)
            user.save()
        RoleMembership.objects.get_or_create(user=user, role=role, **scope)
        if role == Role.GRID_WORKER:
            for grid in grids:
                if not GridAssignment.objects.filter(user=user, grid=grid).exists():
                    GridAssignment.objects.create(
                        user=user, grid=grid, start_date=timezone.localdate()
                    )
            described = ", ".join(g.code for g in grids)
        else:
            scoped = scope.get("area") or scope.get("department")
            described = str(scoped) if scoped else ""
        logins.append(DemoLogin(username, str(role.label), described))
    return logins
