"""The admin's warning that next year's working calendar is only provisional."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from cases.holidays import provisional_year_ahead

register = template.Library()


@register.simple_tag(takes_context=True)
def provisional_calendar_banner(context) -> str:
    request = context.get("request")
    if request is None or not request.user.is_staff:
        return ""
    year = provisional_year_ahead()
    if year is None:
        return ""
    message = _(
        "The working calendar of %(year)s is only provisional: it has the statutory "
        "holidays, not the bridging days and make-up working days the State Council "
        "publishes. Once an upgraded chinesecalendar or holidays package has %(year)s, "
        "the periodic load or manage.py load_holiday_calendar replaces it and moves the "
        "deadlines in it. You may also enter the year by hand."
    ) % {"year": year}
    return format_html(
        '<ul class="messagelist" id="provisional-calendar"><li class="warning">{}</li></ul>',
        message,
    )
