"""Read-only checks of the family app (bind_check, age_on), which write nothing.

`NOW` (2026-11-23 10:00 Asia/Shanghai) is passed as `at=`; ages at NOW: 王小明 14, 马小燕 11,
马俊 18, 王丽 20. 320100 is the exclusive Jiangsu-like policy, 659004 the multi-holder Wujiaqu
one."""

import datetime as dt

from family import errors as family_errors
from family import selectors as family_selectors
from family.models import Relation
from tests.clock import NOW
from tests.family.builders import (
    messages,
    nothing_written,
    req,
)

# ---------------------------------------------------------------------------------------------
# R3 member


def test_bind_check_reports_each_member_and_writes_nothing(demo_unbound):  # R1, R3
    errors = family_selectors.bind_check(
        holder=demo_unbound["王建国"],
        members=[
            req(demo_unbound["王小明"]),
            req(demo_unbound["赵敏"], Relation.SIBLING),
            req(demo_unbound["孙强"], Relation.SIBLING),
            req(demo_unbound["王小明"]),
        ],
        at=NOW,
    )
    assert errors[0] is None
    assert errors[1].messages == messages(family_errors.MEMBER_OUT_OF_SCOPE, scope="本省")
    assert errors[2].messages == messages(family_errors.MEMBER_NOT_NORMAL)
    assert errors[3].messages == messages(family_errors.MEMBER_DUPLICATED)
    assert nothing_written()


# ---------------------------------------------------------------------------------------------
# R21 region-policy settings


def test_age_on_counts_birthdays(demo_unbound):
    xiaoming = demo_unbound["王小明"]  # born 2012-06-01
    assert family_selectors.age_on(xiaoming, dt.date(2028, 5, 31)) == 15
    assert family_selectors.age_on(xiaoming, dt.date(2028, 6, 1)) == 16
